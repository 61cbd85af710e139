"""The client's IP: proxy headers are believed only from the hops that set them.

Production is Cloudflare -> load balancer -> nginx -> gunicorn. Walking from
the direct peer leftwards through `X-Forwarded-For`, every hop inside
TRUSTED_PROXIES (nginx, the load balancer's subnets) appended the address
it saw; the first hop that is not a trusted proxy is the one that reached
us. When that hop is one of Cloudflare's published ranges (the one list,
convertall/cloudflare_ips.txt, which the Terraform reads too) it set
`CF-Connecting-IP`, and that header names the client; otherwise the hop
itself is the client. A header written by anyone else is never believed.

IPv6 clients are bucketed by /64 (one subscriber usually holds a whole /64),
so rate limits, quotas and login lockouts count a network, not an address
its owner can change at will.
"""

import ipaddress
import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CLOUDFLARE_IPS_FILE = Path(settings.BASE_DIR) / "convertall" / "cloudflare_ips.txt"
IPV6_BUCKET_PREFIX = 64
# "1.2.3.4:5678" and "[2001:db8::1]:443" as some proxies write them.
_WITH_PORT = re.compile(r"^\[(?P<v6>[0-9A-Fa-f:.]+)\](?::\d+)?$|^(?P<v4>\d{1,3}(?:\.\d{1,3}){3}):\d+$")


def parse_networks(lines, source, strict=True):
    """CIDR lines (comments and blanks skipped), each validated; a bad line is a configuration error."""
    networks = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            networks.append(ipaddress.ip_network(line, strict=strict))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{source}, line {number}: {line!r} is not a network ({exc})") from None
    return tuple(networks)


@lru_cache(maxsize=1)
def cloudflare_networks():
    networks = parse_networks(CLOUDFLARE_IPS_FILE.read_text().splitlines(), CLOUDFLARE_IPS_FILE.name)
    if not networks:
        raise ImproperlyConfigured(f"{CLOUDFLARE_IPS_FILE.name} lists no network")
    return networks


@lru_cache(maxsize=8)
def _trusted_networks(entries):
    return parse_networks(entries, "TRUSTED_PROXIES", strict=False)


def parse_ip(text):
    """An address from a header or REMOTE_ADDR (ports and IPv4-mapped IPv6 undone), or None."""
    text = (text or "").strip()
    match = _WITH_PORT.match(text)
    if match:
        text = match.group("v6") or match.group("v4")
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _inside(ip, networks):
    return any(ip.version == net.version and ip in net for net in networks)


def is_trusted_proxy(ip):
    return ip is not None and _inside(ip, _trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def is_cloudflare(ip):
    return ip is not None and _inside(ip, cloudflare_networks())


def bucket(ip):
    """The address as counted: IPv4 as is, IPv6 as its /64 network."""
    if ip.version == 6:
        return ipaddress.ip_network(f"{ip}/{IPV6_BUCKET_PREFIX}", strict=False).network_address
    return ip


def _nearest_untrusted_hop(request):
    """The first hop, from the direct peer leftwards, that is not a trusted proxy (or the last trusted one)."""
    hop = parse_ip(request.META.get("REMOTE_ADDR", ""))
    if not is_trusted_proxy(hop):
        return hop
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for raw in reversed([p for p in forwarded.split(",") if p.strip()]):
        ip = parse_ip(raw)
        if ip is None:  # a trusted proxy never writes garbage: the garbage came from its client
            return hop
        hop = ip
        if not is_trusted_proxy(ip):
            return ip
    return hop


def client_ip(request):
    """The client's address (an IPv6 one as its /64) as a string, or None."""
    hop = _nearest_untrusted_hop(request)
    if hop is None:
        return None
    if is_cloudflare(hop):
        claimed = parse_ip(request.META.get("HTTP_CF_CONNECTING_IP", ""))
        if claimed is not None:
            hop = claimed
    return str(bucket(hop))
