"""A thin async client for the STP calls cobro makes (JSON over HTTPS).

Shapes follow STP's SPEI web services as integrations use them (notes/psp-wire.md §3;
the public stpmex-python client): `PUT {base}/ordenPago/registra` (registraOrden, answers
`{"resultado": {"id": ...}}`, or `{"resultado": {"id": <negative>, "descripcionError": ...}}`,
with id -1 for a claveRastreo already used), `POST {efws}/efws/API/consultaOrden` (one order
by claveRastreo; `tipoOrden` "R" received, "E" sent; `{"estado": 0, "respuesta": {...}}`, or
estado 6 with HTTP 400 when there is none) and `POST {efws}/efws/API/V2/conciliacion` (the
orders of an operating day `fechaOperacion`, paged: `{"estado": 0, "total": n, "datos": [...]}`;
also what daily reconciliation reads).

Each of these carries STP's `firma` (cobro/psp/stp/firma.py: RSA-SHA256 over the service's
"cadena original" with the company's private key). A request STP refuses for its firma
(`descripcionError` "Error validando la firma", or an efws `mensaje` saying so) raises
FirmaRejected: a configuration fault (wrong key or certificate), never a transient one.

Simulated, not STP's: `POST {base}/cuentas`, which registers the CLABE cobro issued for a
payment (idempotent per CLABE; 409 when the CLABE already belongs to another payment). Real STP
has an account-registration API (`/cuentaModule/...`, with the holder's RFC/CURP); this
stand-in lets the simulator know each CLABE's payment and amount for its ledger.
"""

from typing import Any

import httpx

from cobro.domain import money
from cobro.psp.errors import PspRejected, PspUnavailable, raise_for_unavailable
from cobro.psp.stp import firma

NOT_FOUND = 6  # consultaOrden / conciliacion: "No se encontraron datos relacionados"
CLAVE_RASTREO_IN_USE = -1  # registraOrden: the claveRastreo was already used
PAGE_SIZE = 100


class ClabeTaken(PspRejected):
    """The CLABE is already registered for another payment."""


class ClaveRastreoInUse(PspRejected):
    """registraOrden refused a claveRastreo it has seen: the order was registered before."""


class FirmaRejected(PspRejected):
    """STP refused the request's firma: the key or STP's certificate of it is wrong."""


def _firma_refused(message: object) -> bool:
    return isinstance(message, str) and "firma" in message.lower()


class StpClient:
    def __init__(
        self,
        base_url: str,
        efws_url: str,
        empresa: str,
        http: httpx.AsyncClient,
        *,
        signer: firma.Signer,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._efws_url = efws_url.rstrip("/")
        self.empresa = empresa
        self._http = http
        self._signer = signer

    async def _request(
        self,
        method: str,
        url: str,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        try:
            response = await self._http.request(method, url, json=body, headers=headers)
        except httpx.TransportError as exc:  # includes timeouts: the outcome is unknown
            raise PspUnavailable(f"stp {method} {url}: {exc!r}") from exc
        raise_for_unavailable("stp", f"{method} {url}", response)
        try:
            # Amounts are decimal pesos: read them as Decimal, never as float.
            data = money.loads(response.content)
        except ValueError:
            raise PspRejected(
                f"stp {method} {url}: HTTP {response.status_code}, not JSON"
            ) from None
        if not isinstance(data, dict):
            raise PspRejected(f"stp {method} {url}: unexpected answer {data!r}")
        return response.status_code, data

    async def register_clabe(
        self,
        clabe: str,
        referencia_numerica: int,
        monto: float,
        nombre: str,
        expires_at_ms: int,
        idempotency_key: str,
    ) -> dict[str, Any]:
        status, data = await self._request(
            "POST",
            f"{self._base_url}/cuentas",
            {
                "empresa": self.empresa,
                "cuenta": clabe,
                "referenciaNumerica": referencia_numerica,
                "monto": monto,
                "nombre": nombre,
                "fechaExpiracion": expires_at_ms,
            },
            headers={"Idempotency-Key": idempotency_key},
        )
        resultado = data.get("resultado") or {}
        if status == 409:
            raise ClabeTaken(f"stp: {resultado.get('descripcionError', 'CLABE in use')}")
        if status >= 400 or "descripcionError" in resultado:
            raise PspRejected(f"stp cuentas: {resultado.get('descripcionError', data)}")
        return dict(resultado)

    async def registra_orden(self, orden: dict[str, Any]) -> int:
        """Register an outbound SPEI transfer; its id at STP."""
        body = {**orden, "empresa": self.empresa}
        body["firma"] = self._signer.sign(firma.cadena_orden(body))
        status, data = await self._request("PUT", f"{self._base_url}/ordenPago/registra", body)
        resultado = data.get("resultado") or {}
        if "descripcionError" in resultado or status >= 400:
            error = resultado.get("descripcionError", data)
            if resultado.get("id") == CLAVE_RASTREO_IN_USE:
                raise ClaveRastreoInUse(f"stp registraOrden: {error}")
            if _firma_refused(error):
                raise FirmaRejected(f"stp registraOrden refused cobro's firma: {error}")
            raise PspRejected(f"stp registraOrden: {error}")
        return int(resultado["id"])

    async def consulta_orden(self, clave_rastreo: str, tipo_orden: str) -> dict[str, Any] | None:
        """One order by claveRastreo ("R": received, "E": sent), or None when STP has none."""
        consulta: dict[str, Any] = {
            "empresa": self.empresa,
            "claveRastreo": clave_rastreo,
            "tipoOrden": tipo_orden,
        }
        consulta["firma"] = self._signer.sign(firma.cadena_consulta_orden(consulta))
        status, data = await self._request(
            "POST", f"{self._efws_url}/efws/API/consultaOrden", consulta
        )
        if data.get("estado") == NOT_FOUND:
            return None
        if _firma_refused(data.get("mensaje")):
            raise FirmaRejected(f"stp consultaOrden refused cobro's firma: {data['mensaje']}")
        if status >= 400 or data.get("estado") != 0:
            raise PspRejected(f"stp consultaOrden: {data.get('mensaje', data)}")
        respuesta: dict[str, Any] = data["respuesta"]
        return respuesta

    async def received_to(self, clabe: str) -> list[dict[str, Any]]:
        """Every deposit STP received for one CLABE, from the conciliation pages.

        STP's conciliation lists all of the company's orders of a day; cobro filters by
        `cuentaBeneficiario` itself. Sent without `fechaOperacion` it covers the current
        operating day at STP; the simulator answers for every day (a live deployment would
        have to walk the days since the CLABE was issued). `cuentaBeneficiario` in the request
        is a simulator-only filter that saves it the paging; STP ignores unknown fields."""
        received = await self.conciliacion("R", cuenta_beneficiario=clabe)
        return [d for d in received if d.get("cuentaBeneficiario") == clabe]

    async def conciliacion(
        self,
        tipo_orden: str,
        fecha_operacion: int | None = None,
        cuenta_beneficiario: str | None = None,
    ) -> list[dict[str, Any]]:
        """The company's orders ("R" received, "E" sent) of an operating day (YYYYMMDD), every
        page of STP's conciliation."""
        query: dict[str, Any] = {"empresa": self.empresa, "tipoOrden": tipo_orden}
        if fecha_operacion is not None:
            query["fechaOperacion"] = fecha_operacion
        query["firma"] = self._signer.sign(firma.cadena_conciliacion(query))
        if cuenta_beneficiario is not None:
            query["cuentaBeneficiario"] = cuenta_beneficiario
        found: list[dict[str, Any]] = []
        page = 0
        while True:
            status, data = await self._request(
                "POST", f"{self._efws_url}/efws/API/V2/conciliacion", {**query, "page": page}
            )
            if data.get("estado") == NOT_FOUND:
                return found
            if _firma_refused(data.get("mensaje")):
                raise FirmaRejected(f"stp conciliacion refused cobro's firma: {data['mensaje']}")
            if status >= 400 or data.get("estado") != 0:
                raise PspRejected(f"stp conciliacion: {data.get('mensaje', data)}")
            datos = data.get("datos") or []
            found += [d for d in datos if isinstance(d, dict)]
            page += 1
            if not datos or page * PAGE_SIZE >= int(data.get("total", 0)):
                return found
