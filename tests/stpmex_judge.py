"""Writes tests/unit/stpmex_vectors.json: STP firmas made by the reference client, stpmex 3.15.1.

stpmex cannot be installed next to cobro (it needs pydantic 1 and cryptography < 40.1), so it
judges from its own virtualenv, and tests/unit/test_stp_firma.py compares cobro's firmas with
what it wrote, byte for byte. To regenerate (the key is the simulator's development key):

    python3.11 -m venv /tmp/stpmex-judge && /tmp/stpmex-judge/bin/pip install stpmex==3.15.1
    /tmp/stpmex-judge/bin/python tests/stpmex_judge.py

The inputs are the `fields` already in the JSON file (cobro's own requests); this script only
recomputes stpmex's cadena, firma and request body for each.
"""

import ast
import json
from pathlib import Path
from typing import Any

from stpmex import Client  # type: ignore[import-not-found]
from stpmex.auth import ORDEN_FIELDNAMES, join_fields  # type: ignore[import-not-found]
from stpmex.resources import Conciliacion, Orden, OrdenV2  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "unit" / "stpmex_vectors.json"


def _dev_key() -> dict[str, str]:
    """The SIMULATOR_STP_* strings of cobro/psp/stp/config.py, read without importing cobro
    (it needs pydantic 2, stpmex pydantic 1)."""
    tree = ast.parse((ROOT / "cobro" / "psp" / "stp" / "config.py").read_text())
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.startswith("SIMULATOR_STP_")
    }


# Fields cobro sends that stpmex's Orden computes or does not model.
NOT_ORDEN_ARGS = {"empresa", "tipoCuentaBeneficiario", "folioOrigen"}


def orden_vector(fields: dict[str, Any]) -> dict[str, Any]:
    args = {k: v for k, v in fields.items() if k not in NOT_ORDEN_ARGS}
    args["institucionContraparte"] = str(args["institucionContraparte"])
    args["institucionOperante"] = str(args["institucionOperante"])
    orden = Orden(**args)
    # stpmex 3.15.1 signs folioOrigen (it is in ORDEN_FIELDNAMES) but has no field for it.
    object.__setattr__(orden, "folioOrigen", fields.get("folioOrigen"))
    body = orden.to_dict()
    body["folioOrigen"] = fields.get("folioOrigen")
    firma = body.pop("firma")
    return {
        "fields": fields,
        "cadena": join_fields(orden, ORDEN_FIELDNAMES),
        "firma": firma,
        "stpmex_body": body,
    }


def main() -> None:
    vectors = json.loads(VECTORS.read_text())
    key = _dev_key()
    Client(
        vectors["empresa"],
        key["SIMULATOR_STP_PRIVATE_KEY"],
        key["SIMULATOR_STP_KEY_PASSPHRASE"],
    )
    vectors["ordenes"] = [{**v, **orden_vector(v["fields"])} for v in vectors["ordenes"]]
    for v in vectors["consultas"]:
        v["firma"] = OrdenV2._firma_consulta_efws(v["fields"])
    for v in vectors["conciliaciones"]:
        v["firma"] = Conciliacion._firma_conciliacion(v["fields"])
    vectors["judge"] = "stpmex 3.15.1"
    VECTORS.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
