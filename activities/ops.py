"""Ops activities that need the database and a PSP: attaching a deposit that matched no
payment (a SPEI transfer to a mistyped CLABE, say) to the payment it was meant for."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from cobro.activity_api import AttachedDeposit, DepositClaim
from cobro.db import inbox_repo
from cobro.domain import money
from cobro.psp.errors import PspRejected
from cobro.psp.stp import mapping
from cobro.psp.stp.adapter import StpAdapter


def _refused(message: str) -> ApplicationError:
    return ApplicationError(message, type="OpsRefused", non_retryable=True)


class OpsActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], stp: StpAdapter | None) -> None:
        self._sessions = sessions
        self._stp = stp

    @activity.defn(name="attach_unmatched_deposit")
    async def attach_unmatched_deposit(self, claim: DepositClaim) -> AttachedDeposit:
        """Claim the stored deposit for the payment, once STP confirms it settled. Idempotent:
        a retry for the same payment returns the same deposit; another payment is refused."""
        if self._stp is None:
            raise _refused("STP is not enabled on this worker (COBRO_PSPS)")
        async with self._sessions() as session:
            row = await inbox_repo.get(session, "stp", claim.event_id)
        if row is None:
            raise _refused(f"no STP deposit {claim.event_id!r}; see `cobro ops unmatched`")
        if row.payment_id not in (None, claim.payment_id):
            raise _refused(f"deposit {claim.event_id} already belongs to {row.payment_id}")
        if row.event_type != "abono":
            raise _refused(f"{claim.event_id} is a {row.event_type!r}, not a deposit cobro kept")
        abono = mapping.abono_from(money.loads(row.raw_body))
        try:  # notifications are unsigned: only STP's own record of the transfer counts
            await self._stp.confirm_deposit(abono)
        except PspRejected as exc:
            raise _refused(str(exc)) from exc
        async with self._sessions.begin() as session:
            if not await inbox_repo.claim(session, row.id, claim.payment_id):
                raise _refused(f"deposit {claim.event_id} was attached to another payment")
        return AttachedDeposit(
            event_id=row.event_id, amount=abono.centavos, clave_rastreo=abono.clave_rastreo
        )
