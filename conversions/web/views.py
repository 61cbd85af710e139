"""Catalog pages (the same for everyone, so a CDN may cache them) and error handlers.

Nothing here reads the session or the user: a cached page must not carry a
CSRF token, a user name or a `Vary: Cookie`. The header's account link and
the form's submit work without anything personal in this HTML.
"""

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import cache_control

from conversions.jobs import direct
from conversions.web import filter_pages
from conversions.web import pages
from conversions.errors import json_error

PAGE_MAX_AGE = settings.PAGE_CACHE_SECONDS
public_page = cache_control(public=True, max_age=PAGE_MAX_AGE)


@public_page
def home(request):
    groups = pages.grouped_by_source()
    context = {
        "groups": groups,
        "catalog_version": catalog_version(groups),
        "count": sum(g[2] for g in groups),
        "popular": pages.popular(),
        "canonical": reverse("home"),
        "cacheable": True,
    }
    return render(request, "conversions/home.html", context)


@public_page
def converter_list(request):
    # ?q= filters on the server too, for the home page's search without JavaScript.
    query = request.GET.get("q", "")[:100]
    context = {
        "groups": (groups := pages.grouped_by_source(query)),
        "catalog_version": catalog_version(groups),
        "query": query,
        "canonical": reverse("converter-list"),
        "cacheable": True,
    }
    return render(request, "conversions/converter_list.html", context)


@public_page
def converter_detail(request, slug):
    pair, canonical = pages.resolve(slug)
    if pair is None:
        raise Http404("No such converter.")
    if canonical != slug:
        return HttpResponsePermanentRedirect(reverse("converter", args=[canonical]))
    return render(request, "conversions/converter.html", converter_context(pair))


def catalog_version(groups):
    """A key for the rendered catalog: it changes whenever the set of pages does.

    Rendering ~500 links takes most of a catalog request; the fragment cache
    keeps it to one render per change of the registry (templates/conversions/_groups.html).
    """
    import hashlib

    slugs = "|".join(item.slug for _, _, _, rows in groups for _, _, items in rows for item in items)
    return hashlib.sha256(slugs.encode()).hexdigest()[:16]


def converter_context(pair, **extra):
    fields = pages.option_fields(pair)
    return {
        "pair": pair,
        "related": pages.related(pair),
        "fields": fields,
        "field_groups": pages.split_fields(fields),
        "accept": accept_attr(pair.source),
        "canonical": reverse("converter", args=[pair.slug]),
        "direct_uploads": direct.enabled(),  # the same for every visitor: the page stays cacheable
        "cacheable": True,
        **extra,
    }


def accept_attr(source):
    from conversions.engine import formats

    fmt = formats.FORMATS.get(source)
    if fmt is None:
        return ""
    exts = [f".{source}", *(f".{a}" for a in fmt.aliases)]
    return ",".join([*exts, fmt.content_type])


@public_page
def filter_detail(request, slug):
    page = filter_pages.resolve(slug)
    if page is None:
        raise Http404("No such filter.")
    return render(request, "conversions/filter.html", filter_context(page))


def filter_context(page, **extra):
    fields = filter_pages.param_fields(page)
    return {
        "page": page,
        "fields": fields,
        "field_groups": pages.split_fields(fields),
        "related": [p for p in filter_pages.all_filters() if p.family == page.family and p.slug != page.slug],
        "canonical": reverse("filter-page", args=[page.slug]),
        "direct_uploads": direct.enabled(),  # the same for every visitor: the page stays cacheable
        "cacheable": True,
        **extra,
    }


@public_page
def sitemap(request):
    base = request.build_absolute_uri("/").rstrip("/")
    urls = [base + reverse("home"), base + reverse("converter-list")]
    urls += [base + p.url for p in pages.all_pairs()]
    urls += [base + p.url for p in filter_pages.all_filters()]
    body = render_to_string("conversions/sitemap.xml", {"urls": urls})
    return HttpResponse(body, content_type="application/xml")


@public_page
def robots(request):
    sitemap_url = request.build_absolute_uri(reverse("sitemap"))
    body = f"User-agent: *\nDisallow: /jobs/\nDisallow: /history\nDisallow: /accounts/\nSitemap: {sitemap_url}\n"
    return HttpResponse(body, content_type="text/plain")


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error("not_found", "No such API endpoint.", 404)
    # Nothing personal: a 404 must not touch the session (or the database behind it).
    return render(request, "errors/404.html", {"cacheable": True}, status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_error("internal_error", "Something went wrong on our side; try again.", 500)
    # The database may be what failed: render without the session or the user.
    return render(request, "errors/500.html", {"cacheable": True}, status=500)
