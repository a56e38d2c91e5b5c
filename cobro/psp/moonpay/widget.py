"""MoonPay's signed widget URL: how a customer buys (there is no server call to create a purchase).

As dev.moonpay.com documents it ("URL signing", widget/on-ramp/customization/url-signing and
v1.0/docs/ramps-sdk-url-signing): a URL carrying `walletAddress` must be signed, or the widget
does not load; `signature` is the base64 HMAC-SHA256 of the URL's query string (from its
leading `?`, parameter values URL-encoded) keyed with the secret API key, URL-encoded and
appended as the last parameter.

The URL names the customer's wallet, so it is built when a payment is shown (cobro/views.py),
from the wallet kept in PostgreSQL: workflow history keeps only the wallet-free `widget`
parameters the adapter returns in the instructions.
"""

import base64
import hashlib
import hmac
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode


def signature(query: str, secret_key: str) -> str:
    """MoonPay's signature of `query` (which starts with `?`)."""
    digest = hmac.new(secret_key.encode(), query.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_url(base_url: str, params: list[tuple[str, str]], secret_key: str) -> str:
    query = "?" + urlencode(params, quote_via=quote)
    return f"{base_url}{query}&signature={quote(signature(query, secret_key), safe='')}"


@cache
def _keys() -> tuple[str, str, str]:
    from cobro.settings import get_settings  # read once per process, on first use

    settings = get_settings()
    return (
        settings.moonpay_widget_url,
        settings.moonpay_publishable_key,
        settings.moonpay_api_key.get_secret_value(),
    )


def customer_url(widget: dict[str, Any], wallet_address: str) -> str:
    """The URL the customer buys at: the `widget` parameters of the instructions, the wallet,
    the account's publishable key, signed with its secret key."""
    base_url, publishable_key, secret_key = _keys()
    params = [("apiKey", publishable_key)]
    params += [(str(k), str(v)) for k, v in widget.items() if k != "walletAddress"]
    params.append(("walletAddress", wallet_address))
    return signed_url(base_url, params, secret_key)
