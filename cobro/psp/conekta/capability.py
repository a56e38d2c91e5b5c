from cobro.domain.methods import PaymentMethod as M
from cobro.psp.connector import Capability

# OXXO Pay vouchers up to 10,000 MXN; refunds of cash and SPEI orders are not offered through
# its API here (unconfirmed in Conekta's docs, so cobro does not promise them).
# Its OpenAPI requires customer_info's name, email and phone on every order (the official SDK
# cannot even build an order without them).
CAPABILITY = Capability(
    limits={M.OXXO: (1_000, 1_000_000), M.SPEI: (100, 100_000_000)},
    needs_customer=frozenset({"email", "phone"}),
)
