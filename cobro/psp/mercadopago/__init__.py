"""Mercado Pago (the largest PSP in Latin America) as cobro's fifth PSP: OXXO tickets and SPEI
transfers through the Payments API v1. What was checked against MP's documentation and its
official SDK, and what is assumed, is in README.md next to this file."""
