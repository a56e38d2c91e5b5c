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
Needs = frozenset[str]  # customer fields a PSP refuses a payment without


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


def needs(psp: str) -> Needs:
    return frozenset(routing.CAPABILITIES[psp].needs_customer)


def unpinned_range(method: PaymentMethod, ranges: dict[str, Range]) -> Range | None:
    """Amounts some PSP on the default route takes from any customer (routing skips a PSP that
    needs a customer field the payment lacks; merchant routes may narrow it: then 422
    `no-psp-for-payment`). None when the default route's ranges leave a gap."""
    default = routing.DEFAULT_ROUTES.get(method, [])
    spans = sorted(ranges[p] for p in default if p in ranges and not needs(p))
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


def _customer(base: Schema, required: Needs) -> Schema:
    """The Customer schema, with the fields the pinned PSPs need made required and non-null."""
    if not required:
        return dict(base["properties"]["customer"])
    fields = sorted(required)
    return {
        "allOf": [
            base["properties"]["customer"],
            {
                "type": "object",
                "required": fields,
                "properties": {f: {"type": "string"} for f in fields},
            },
        ],
        "description": f"The pinned PSP needs customer {', '.join(fields)}",
    }


def _variant(
    base: Schema, method: PaymentMethod, bounds: Range, fields: Needs, pins: list[str | None]
) -> Schema:
    limits = LIMITS[method]
    properties = dict(base["properties"])
    properties["customer"] = _customer(base, fields)
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
    """One method's body: one object schema, or a oneOf when PSPs take different amounts or
    need different customer fields."""
    ranges = psp_ranges(method)
    groups: dict[tuple[Range, Needs], list[str | None]] = {}
    for psp, bounds in ranges.items():
        groups.setdefault((bounds, needs(psp)), []).append(psp)
    unpinned = unpinned_range(method, ranges)
    if unpinned is not None:
        groups.setdefault((unpinned, frozenset()), []).append(None)
    variants = [
        _variant(base, method, bounds, required, pins)
        for (bounds, required), pins in sorted(
            groups.items(), key=lambda g: (g[0][0], sorted(g[0][1]))
        )
    ]
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
