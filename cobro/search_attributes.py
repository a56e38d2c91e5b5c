"""Search attributes ops use to find payments in the Temporal Web UI (SPEC §5)."""

from temporalio.common import SearchAttributeKey

PAYMENT_STATUS = SearchAttributeKey.for_keyword("PaymentStatus")
PAYMENT_METHOD = SearchAttributeKey.for_keyword("PaymentMethod")
MERCHANT_ID = SearchAttributeKey.for_keyword("MerchantId")
PSP = SearchAttributeKey.for_keyword("Psp")
PSP_REFERENCE = SearchAttributeKey.for_keyword("PspReference")
AMOUNT_CENTAVOS = SearchAttributeKey.for_int("AmountCentavos")
PAYMENT_EXPIRES_AT = SearchAttributeKey.for_datetime("PaymentExpiresAt")

ALL = [
    PAYMENT_STATUS,
    PAYMENT_METHOD,
    MERCHANT_ID,
    PSP,
    PSP_REFERENCE,
    AMOUNT_CENTAVOS,
    PAYMENT_EXPIRES_AT,
]

# Names as the `temporal` CLI spells the types.
SEARCH_ATTRIBUTE_TYPES = {
    "PaymentStatus": "Keyword",
    "PaymentMethod": "Keyword",
    "MerchantId": "Keyword",
    "Psp": "Keyword",
    "PspReference": "Keyword",
    "AmountCentavos": "Int",
    "PaymentExpiresAt": "Datetime",
}
