"""Temporal task queues, shared by the API (which starts workflows) and the worker (which polls)."""

# PaymentWorkflow, DailyReconciliation and their activities.
PAYMENTS = "payments"
# Merchant webhook deliveries: slow merchant endpoints never take the slots payments need.
MERCHANT_WEBHOOKS = "merchant-webhooks"
