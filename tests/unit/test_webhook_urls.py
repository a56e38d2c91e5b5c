"""The webhook URL guard (cobro/webhook_urls.py): every refused address class, public addresses
accepted, names checked by what they resolve to, and the pinned request."""

import ipaddress

import pytest

from cobro.webhook_urls import (
    Unresolvable,
    UnsafeUrl,
    UrlPolicy,
    address_class,
    check,
    pinned,
    resolve,
)

STRICT = UrlPolicy(https_only=True, allow_private=False)
LENIENT = UrlPolicy(https_only=False, allow_private=True)

REFUSED = [
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.10", "private"),
    ("100.64.0.1", "private"),  # carrier-grade NAT
    ("fd12:3456::1", "private"),  # unique local
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 (an address to refuse, not a bind)
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.10", "reserved"),  # documentation
    ("2001:db8::1", "reserved"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
    ("::7f00:1", "reserved"),  # IPv4-compatible (deprecated)
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_every_refused_class_is_named(address: str, kind: str) -> None:
    assert address_class(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_accepted(address: str) -> None:
    assert address_class(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(("address", "kind"), REFUSED)
async def test_a_url_at_a_refused_address_is_refused_naming_class_and_address(
    address: str, kind: str
) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(UnsafeUrl, match=f"an? {kind} address") as refused:
        await check(f"https://{host}/hooks", STRICT)
    assert str(ipaddress.ip_address(address)) in str(refused.value)


async def test_allow_private_allows_only_private_and_loopback() -> None:
    for address in ("127.0.0.1", "10.0.0.1", "192.168.0.5", "[::1]", "[::ffff:127.0.0.1]"):
        assert await check(f"http://{address}:8080/hooks", LENIENT)
    for address in ("169.254.169.254", "0.0.0.0", "224.0.0.1", "[fe80::1]"):  # noqa: S104
        with pytest.raises(UnsafeUrl):
            await check(f"http://{address}/hooks", LENIENT)


async def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        assert (host, port) == ("shop.example.mx", 443)
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(UnsafeUrl, match=r"shop.example.mx resolves to 10.0.0.7, a private"):
        await check("https://shop.example.mx/hooks", STRICT, mixed)

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "2606:2800:220:1::1"]

    assert await check("https://shop.example.mx/hooks", STRICT, public) == [
        "93.184.216.34",
        "2606:2800:220:1::1",
    ]


async def test_localhost_resolves_to_loopback_and_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match=r"localhost resolves to (127\.0\.0\.1|::1), a loopback"):
        await check("https://localhost/hooks", STRICT)


async def test_an_unresolvable_name_is_reported() -> None:
    with pytest.raises(Unresolvable):
        await resolve("no-such-host.invalid", 443)


async def test_live_mode_takes_https_only() -> None:
    with pytest.raises(UnsafeUrl, match="https only"):
        await check("http://93.184.216.34/hooks", STRICT)
    with pytest.raises(UnsafeUrl, match="scheme 'ftp'"):
        await check("ftp://93.184.216.34/hooks", LENIENT)


def test_the_pinned_request_keeps_host_header_and_tls_name() -> None:
    url, headers, extensions = pinned("https://shop.example.mx:8443/h?x=1", "93.184.216.34")
    assert str(url) == "https://93.184.216.34:8443/h?x=1"
    assert headers == {"host": "shop.example.mx:8443"}
    assert extensions == {"sni_hostname": "shop.example.mx"}
    url, headers, extensions = pinned("http://shop.example.mx/h", "2606:2800:220:1::1")
    assert str(url) == "http://[2606:2800:220:1::1]/h"
    assert headers == {"host": "shop.example.mx"} and extensions == {}
