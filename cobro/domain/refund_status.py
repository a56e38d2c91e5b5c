"""A PSP's refund statuses in cobro's terms (`pending`, `succeeded`, `failed`; SPEC §3).

Each PSP's mapping module lists every status its documentation gives; a status missing from
that list raises instead of being guessed, because a guess moves money: taking an unknown
status for `failed` releases an amount the PSP may still be sending, and taking it for
`succeeded` tells the merchant the customer has money that may never arrive.
"""

from collections.abc import Mapping

from cobro.domain.payment import RefundStatus


class UnknownRefundStatus(ValueError):
    """The PSP reported a refund status cobro has no mapping for."""


def refund_status(psp: str, table: Mapping[str, RefundStatus], status: object) -> RefundStatus:
    if not isinstance(status, str) or status not in table:
        raise UnknownRefundStatus(
            f"{psp} refund status {status!r} is not mapped; known: {sorted(table)}"
        )
    return table[status]
