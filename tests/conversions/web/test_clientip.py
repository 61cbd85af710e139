"""Whose address a request is counted under: CF-Connecting-IP only from Cloudflare, else the right-most untrusted hop."""

import pytest
from django.test import RequestFactory

from conversions.web import clientip

CF_EDGE = "172.70.1.2"  # inside 172.64.0.0/13
CF_EDGE6 = "2606:4700:10::6816:1"
ALB = "10.0.3.7"


@pytest.fixture
def behind_proxies(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1/32", "10.0.0.0/16"]


def ip_of(remote="127.0.0.1", xff=None, cf=None):
    meta = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    if cf is not None:
        meta["HTTP_CF_CONNECTING_IP"] = cf
    return clientip.client_ip(RequestFactory().get("/", **meta))


def test_the_one_cloudflare_list_parses_and_holds_both_families():
    networks = clientip.cloudflare_networks()
    assert {n.version for n in networks} == {4, 6} and len(networks) >= 20
    assert clientip.is_cloudflare(clientip.parse_ip(CF_EDGE))
    assert not clientip.is_cloudflare(clientip.parse_ip("203.0.113.5"))


def test_cf_connecting_ip_is_believed_when_cloudflare_is_the_hop_that_reached_us(behind_proxies):
    # Cloudflare -> ALB -> nginx -> gunicorn: XFF "client, cf-edge, alb", peer nginx.
    assert ip_of(xff=f"198.51.100.7, {CF_EDGE}, {ALB}", cf="198.51.100.7") == "198.51.100.7"
    assert ip_of(xff=f"{CF_EDGE6}", cf="198.51.100.8") == "198.51.100.8"
    assert ip_of(remote=CF_EDGE, cf="198.51.100.9") == "198.51.100.9"  # Cloudflare straight to us


@pytest.mark.parametrize(
    "remote, xff, cf, expected",
    [
        # A client that reached the ALB directly writes CF-Connecting-IP itself: not believed.
        ("127.0.0.1", f"203.0.113.5, {ALB}", "1.1.1.1", "203.0.113.5"),
        # ...nor the XFF hops it wrote left of itself.
        ("127.0.0.1", f"1.1.1.1, {CF_EDGE}, 203.0.113.5, {ALB}", "1.1.1.1", "203.0.113.5"),
        # An untrusted direct peer: every header is ignored.
        ("203.0.113.5", "1.1.1.1", "1.1.1.1", "203.0.113.5"),
        # Only trusted hops: the left-most of them.
        ("127.0.0.1", f"{ALB}", None, ALB),
        ("127.0.0.1", None, None, "127.0.0.1"),
        # Garbage where a trusted proxy would have written an address: the proxy itself.
        ("127.0.0.1", "1.1.1.1, not-an-ip", None, "127.0.0.1"),
        # CF header that is not an address: the Cloudflare hop is kept.
        ("127.0.0.1", f"{CF_EDGE}", "nonsense", CF_EDGE),
        # Ports and IPv4-mapped forms.
        ("127.0.0.1", "203.0.113.5:4711", None, "203.0.113.5"),
        ("::ffff:127.0.0.1", "[2001:db8:1:2::9]:443", None, "2001:db8:1:2::"),
    ],
)
def test_headers_from_anyone_else_are_never_believed(behind_proxies, remote, xff, cf, expected):
    assert ip_of(remote=remote, xff=xff, cf=cf) == expected


def test_ipv6_clients_are_bucketed_by_their_64(behind_proxies):
    a = ip_of(xff=CF_EDGE, cf="2001:db8:aa:bb:1111:2222:3333:4444")
    b = ip_of(xff=CF_EDGE, cf="2001:db8:aa:bb:ffff::1")
    c = ip_of(xff=CF_EDGE, cf="2001:db8:aa:bc::1")
    assert a == b == "2001:db8:aa:bb::" and c != a
    assert ip_of(remote="2001:db8:5:6:7:8:9:a") == "2001:db8:5:6::"


def test_no_trusted_proxies_configured_means_the_peer(settings):
    settings.TRUSTED_PROXIES = []
    assert ip_of(remote="127.0.0.1", xff="1.2.3.4", cf="1.2.3.4") == "127.0.0.1"


def test_bad_lines_are_configuration_errors():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="line 2"):
        clientip.parse_networks(["# x", "300.1.1.0/24"], "test")
    with pytest.raises(ImproperlyConfigured):
        clientip.parse_networks(["10.0.0.1/8"], "test")  # host bits set: a typo in the list
    assert clientip.parse_networks(["10.0.0.1/8"], "test", strict=False)[0].prefixlen == 8
