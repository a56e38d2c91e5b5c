"""The create-payment body as the OpenAPI schema states it: one variant per method, with the
amount, expiry and PSP pins that method really accepts, read from the same tables the API
checks (cobro/domain/methods.py's LIMITS, the PSPs' routing capabilities), never copied.

Runtime validation stays in api/routes/payments.py (with its precise problem slugs); this only
makes the schema say what it enforces, so a schema-valid body is never refused for its shape.
"""

from typing import Any

from cobro.domain import routing
from cobro.domain.methods import LIMITS, PaymentMethod
from cobro.domain.payment import CRYPTO_ADDRESS_PATTERNS

Schema = dict[str, Any]
Range = tuple[int, int]


def psp_ranges(method: PaymentMethod) -> dict[str, Range]:
    """Each PSP that takes `method`, with the amounts it takes for it within the method's own
    limits (a PSP whose range misses those limits entirely is left out)."""
    limits = LIMITS[method]
    ranges = {}
    for psp, capability in routing.CAPABILITIES.items():
        taken = capability.limits.get(method)
        if taken is None:
            continue
        low, high = max(taken[0], limits.min_amount), min(taken[1], limits.max_amount)
        if low <= high:
            ranges[psp] = (low, high)
    return ranges


def unpinned_range(method: PaymentMethod, ranges: dict[str, Range]) -> Range | None:
    """Amounts some PSP on the default route takes (merchant routes may narrow it: then 422
    `no-psp-for-payment`). None when the default route's ranges leave a gap."""
    spans = sorted(ranges[p] for p in routing.DEFAULT_ROUTES.get(method, []) if p in ranges)
    if not spans:
        return None
    low, high = spans[0]
    for start, end in spans[1:]:
        if start > high + 1:
            return None
        high = max(high, end)
    return low, high


def _amount(bounds: Range) -> Schema:
    return {
        "type": "integer",
        "minimum": bounds[0],
        "maximum": bounds[1],
        "description": "Integer centavos: 25000 is 250.00 MXN",
    }


def _crypto() -> Schema:
    return {
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["currency_code", "wallet_address"],
                "properties": {
                    "currency_code": {"const": code},
                    "wallet_address": {
                        "type": "string",
                        "minLength": 26,
                        "maxLength": 100,
                        "pattern": f"^(?:{pattern})$",
                    },
                },
            }
            for code, pattern in CRYPTO_ADDRESS_PATTERNS.items()
        ],
        "description": "What the payment buys and the wallet it goes to (address checked "
        "against the currency's network)",
    }


def _variant(base: Schema, method: PaymentMethod, bounds: Range, pins: list[str | None]) -> Schema:
    limits = LIMITS[method]
    properties = dict(base["properties"])
    properties["method"] = {"type": "string", "const": method.value}
    properties["amount"] = _amount(bounds)
    properties["expires_in"] = {
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": limits.max_expires_in_s},
            {"type": "null"},
        ],
        "description": f"Seconds; {limits.default_expires_in_s} if omitted",
    }
    psps = sorted(p for p in pins if p is not None)
    options: list[Schema] = [{"type": "string", "enum": psps}] if psps else []
    if None in pins:
        options.append({"type": "null"})
    properties["psp"] = {
        "anyOf": options,
        "description": "Pin one PSP (it must be enabled for this deployment); null routes it",
    }
    required = ["amount", "currency", "method", "customer"]
    if method == PaymentMethod.CRYPTO:
        properties["crypto"] = _crypto()
        required.append("crypto")
    else:
        properties["crypto"] = {"type": "null", "description": "Only for method crypto"}
    if None not in pins:
        required.append("psp")
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def method_schema(base: Schema, method: PaymentMethod) -> Schema | None:
    """One method's body: one object schema, or a oneOf when PSPs take different amounts."""
    ranges = psp_ranges(method)
    by_range: dict[Range, list[str | None]] = {}
    for psp, bounds in ranges.items():
        by_range.setdefault(bounds, []).append(psp)
    unpinned = unpinned_range(method, ranges)
    if unpinned is not None:
        by_range.setdefault(unpinned, []).append(None)
    variants = [_variant(base, method, bounds, pins) for bounds, pins in sorted(by_range.items())]
    if not variants:
        return None
    title = f"CreatePaymentRequest{method.value.capitalize()}"
    if len(variants) == 1:
        return {**variants[0], "title": title}
    return {"title": title, "oneOf": variants}


def add_variants(schemas: dict[str, Schema]) -> None:
    """Replace components' CreatePaymentRequest with a oneOf on `method`, one variant each."""
    base = schemas["CreatePaymentRequest"]
    base["properties"]["metadata"]["maxProperties"] = 50  # the model's validator (Stripe's)
    mapping = {}
    for method in PaymentMethod:
        if method not in LIMITS:
            continue  # no PSP configured for it: the API refuses it (422 method-unavailable)
        variant = method_schema(base, method)
        if variant is None:
            continue
        name = variant["title"]
        schemas[name] = variant
        mapping[method.value] = f"#/components/schemas/{name}"
    schemas["CreatePaymentRequest"] = {
        "title": "CreatePaymentRequest",
        "description": "A payment to create. What each method accepts (amounts in centavos, "
        "expiry, PSPs) is its variant's; a body outside them is a 422 that says why.",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "method", "mapping": mapping},
    }
