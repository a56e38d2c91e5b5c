from cobro.domain.methods import PaymentMethod as M
from cobro.psp.connector import Capability

# Crypto only, 200-50,000 MXN. Not refundable through cobro: the crypto is in the customer's
# wallet once delivered, and when delivery fails MoonPay itself refunds the customer's card/bank
# payment.
CAPABILITY = Capability(limits={M.CRYPTO: (20_000, 5_000_000)})
