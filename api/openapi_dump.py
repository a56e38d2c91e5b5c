"""`python -m api.openapi_dump > docs/openapi.json` (or `make openapi`): the merchant API's
OpenAPI schema, pretty-printed with sorted keys, as committed and served at `/openapi.json`."""

import json
import sys
from typing import Any

from api.app import create_app
from cobro.settings import Settings


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    # The schema depends on code only: the settings are never used to build it.
    sys.stdout.write(render(create_app(Settings()).openapi()))


if __name__ == "__main__":
    main()
