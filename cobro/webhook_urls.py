"""Which merchant webhook URLs cobro may call (SSRF guard).

A merchant chooses the URL, so without this cobro could be made to POST to its own network,
the cloud metadata service (169.254.169.254) or loopback. The URL is checked at registration
and again before every delivery (DNS can change), and the delivery connects to the address
that was checked (`pinned`), so a second lookup cannot swap it."""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> every address the name resolves to. Injectable so tests control DNS.
Resolver = Callable[[str, int], Awaitable[list[str]]]
RESOLVE_TIMEOUT_S = 5

# Internal networks (RFC 1918, carrier-grade NAT RFC 6598, IPv6 unique-local and site-local):
# allowed only with COBRO_WEBHOOK_ALLOW_PRIVATE, like loopback.
_PRIVATE = [
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
ALLOWABLE = frozenset({"private", "loopback"})  # what COBRO_WEBHOOK_ALLOW_PRIVATE allows


@dataclass(frozen=True)
class UrlPolicy:
    https_only: bool
    allow_private: bool


class UnsafeUrl(Exception):
    """A URL cobro refuses to call; the message names the reason (class and address)."""


class Unresolvable(Exception):
    """The host name does not resolve (now): nothing to connect to."""


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4, Teredo client)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_class(ip: IPAddress) -> str | None:
    """The class of a non-public address ("loopback", "private", ...), None if public."""
    if isinstance(ip, ipaddress.IPv6Address):
        if (v4 := _embedded_v4(ip)) is not None:
            return address_class(v4)
        if ip in _IPV4_COMPATIBLE and not ip.is_unspecified and not ip.is_loopback:
            return "reserved"
    for name, hit in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", any(ip in n for n in _PRIVATE if n.version == ip.version)),
        ("private", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
        # Everything else that is not globally routable: documentation, benchmarking, 240/4...
        ("reserved", ip.is_reserved or not ip.is_global),
    ):
        if hit:
            return name
    return None


def refusal(address: str, policy: UrlPolicy) -> str | None:
    """The class that forbids connecting to `address`, or None when cobro may."""
    kind = address_class(ipaddress.ip_address(address))
    if kind is None or (policy.allow_private and kind in ALLOWABLE):
        return None
    return kind


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError) as exc:
        raise Unresolvable(f"{host} does not resolve: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check(url: str, policy: UrlPolicy, resolver: Resolver = resolve) -> list[str]:
    """The addresses `url` may be called at; UnsafeUrl if its scheme or any address is
    refused (one bad answer is enough: the connection could pick it)."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https"):
        raise UnsafeUrl(f"scheme {parsed.scheme!r} is not http or https")
    if policy.https_only and parsed.scheme != "https":
        raise UnsafeUrl("live mode calls webhook URLs over https only")
    host = parsed.host
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = await resolver(host, parsed.port or (443 if parsed.scheme == "https" else 80))
        if not addresses:
            raise Unresolvable(f"{host} has no addresses") from None
    for address in addresses:
        kind = refusal(address, policy)
        if kind is not None:
            shown = _shown(address)
            what = f"{shown} is" if host == address else f"{host} resolves to {shown},"
            article = "an" if kind[0] in "aeiou" else "a"
            raise UnsafeUrl(f"{what} {article} {kind} address; cobro does not send webhooks there")
    return addresses


def _shown(address: str) -> str:
    """The address as the merchant may know it: an IPv6 form of an IPv4 one names both."""
    ip = ipaddress.ip_address(address)
    v4 = _embedded_v4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return address if v4 is None else f"{address} (IPv4 {v4})"


def pinned(url: str, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """The request that reaches `address` for `url`: URL with the address as host, the Host
    header and TLS server name (SNI, certificate check) of the original host."""
    original = httpx.URL(url)
    host = original.host
    headers = {"host": original.netloc.decode("ascii")}
    extensions = {"sni_hostname": host} if original.scheme == "https" else {}
    return original.copy_with(host=address.split("%")[0]), headers, extensions
