"""The client's IP: proxy headers are believed only from a trusted proxy."""

import ipaddress

from django.conf import settings


def _trusted(addr):
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    for entry in settings.TRUSTED_PROXIES:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_ip(request):
    peer = request.META.get("REMOTE_ADDR", "")
    if peer and _trusted(peer):
        cf = request.META.get("HTTP_CF_CONNECTING_IP", "").strip()
        if cf:
            return cf
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        # The right-most address not itself a trusted proxy is the client.
        for hop in reversed(forwarded):
            if not _trusted(hop):
                return hop
    return peer or None
