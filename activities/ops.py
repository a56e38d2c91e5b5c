"""Ops activities that need the database and a PSP: attaching a deposit that matched no
payment (a SPEI transfer to a mistyped CLABE, say) to the payment it was meant for, at the PSPs
that accept deposit claims (Capability.accepts_deposit_claims)."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from cobro.activity_api import AttachedDeposit, DepositClaim
from cobro.db import inbox_repo
from cobro.psp.errors import PspRejected
from cobro.psp.wiring import DepositClaimer, DepositRefused


def _refused(message: str) -> ApplicationError:
    return ApplicationError(message, type="OpsRefused", non_retryable=True)


class OpsActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], claimers: dict[str, DepositClaimer]
    ) -> None:
        self._sessions = sessions
        self._claimers = claimers

    @activity.defn(name="attach_unmatched_deposit")
    async def attach_unmatched_deposit(self, claim: DepositClaim) -> AttachedDeposit:
        """Claim the stored deposit for the payment, once its PSP confirms it settled.
        Idempotent: a retry for the same payment returns the same deposit; another payment is
        refused."""
        if not self._claimers:
            raise _refused("no PSP that takes deposits is enabled on this worker (COBRO_PSPS)")
        found = None
        async with self._sessions() as session:
            for psp, claimer in self._claimers.items():
                row = await inbox_repo.get(session, psp, claim.event_id)
                if row is not None:
                    found = row, claimer
                    break
        if found is None:
            where = " or ".join(sorted(self._claimers))
            raise _refused(f"no {where} deposit {claim.event_id!r}; see `cobro ops unmatched`")
        row, claimer = found
        if row.payment_id not in (None, claim.payment_id):
            raise _refused(f"deposit {claim.event_id} already belongs to {row.payment_id}")
        try:  # notifications are unsigned: only the PSP's own record of the transfer counts
            deposit = await claimer.confirm(row.event_type, row.raw_body)
        except DepositRefused as exc:
            raise _refused(f"{claim.event_id} is {exc}") from exc
        except PspRejected as exc:
            raise _refused(str(exc)) from exc
        async with self._sessions.begin() as session:
            if not await inbox_repo.claim(session, row.id, claim.payment_id):
                raise _refused(f"deposit {claim.event_id} was attached to another payment")
        return AttachedDeposit(
            event_id=row.event_id, amount=deposit.amount, clave_rastreo=deposit.reference
        )
