from cobro.domain.methods import PaymentMethod as M
from cobro.psp.connector import Capability

# Bank transfers only, any amount from 1 centavo (STP's per-transfer limits are not confirmed,
# so cobro keeps Stripe's ceiling); refunds are new outbound transfers to the payer's account
# (SPEI payments are irrevocable), sent from the payment's CLABE, so late and excess money's
# refunds show in STP's report under the payment's reference. A deposit to a mistyped CLABE
# is kept, and ops may attach it to the payment it was meant for.
CAPABILITY = Capability(
    limits={M.SPEI: (1, 100_000_000)},
    refundable=frozenset({M.SPEI}),
    accepts_deposit_claims=True,
    late_refunds_on_reference=True,
)
