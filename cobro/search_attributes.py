"""Search attributes ops use to find payments in the Temporal Web UI (SPEC §5)."""

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

PAYMENT_STATUS = SearchAttributeKey.for_keyword("PaymentStatus")
PAYMENT_METHOD = SearchAttributeKey.for_keyword("PaymentMethod")
MERCHANT_ID = SearchAttributeKey.for_keyword("MerchantId")
PSP = SearchAttributeKey.for_keyword("Psp")
PSP_REFERENCE = SearchAttributeKey.for_keyword("PspReference")
AMOUNT_CENTAVOS = SearchAttributeKey.for_int("AmountCentavos")
PAYMENT_EXPIRES_AT = SearchAttributeKey.for_datetime("PaymentExpiresAt")
# What needs an operator's eye: "late_payment_held", "failover".
PAYMENT_FLAGS = SearchAttributeKey.for_keyword_list("PaymentFlags")

ALL: list[SearchAttributeKey] = [  # type: ignore[type-arg]
    PAYMENT_STATUS,
    PAYMENT_METHOD,
    MERCHANT_ID,
    PSP,
    PSP_REFERENCE,
    AMOUNT_CENTAVOS,
    PAYMENT_EXPIRES_AT,
    PAYMENT_FLAGS,
]

# Names as the `temporal` CLI spells the types (`--search-attribute Name=Type`).
SEARCH_ATTRIBUTE_TYPES = {key.name: key._metadata_type for key in ALL}


async def register(client: Client, namespace: str) -> None:
    """Add any missing search attribute; safe to run on every start."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as exc:  # the time-skipping test server cannot list, only add
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in ALL
        if key.name not in existing
    }
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
