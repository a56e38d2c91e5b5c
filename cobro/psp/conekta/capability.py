from cobro.domain.methods import PaymentMethod as M
from cobro.psp.connector import Capability

# OXXO Pay vouchers up to 10,000 MXN; refunds of cash and SPEI orders are not offered through
# its API here (unconfirmed in Conekta's docs, so cobro does not promise them).
CAPABILITY = Capability(limits={M.OXXO: (1_000, 1_000_000), M.SPEI: (100, 100_000_000)})
