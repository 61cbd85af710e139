"""Pages that belong to one browser or user: submit, a job's page, history.

These are never cached (`no-store`). The converter page's form posts here:
with JavaScript as an XMLHttpRequest asking for JSON (upload progress, then
status polling on the API); without it as a plain form POST answered with a
303 to `/jobs/<id>`, which refreshes itself until the job is done.
"""

import logging
import re
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from conversions.jobs import direct
from conversions.jobs import operations as job_operations
from conversions.web import filter_pages
from conversions.web import pages
from conversions.api.throttles import PresignThrottle, SubmitThrottle
from conversions.web.clientip import client_ip
from conversions.errors import ConvertAllError, error_body
from conversions.models import ACTIVE_STATUSES, Job
from conversions.jobs.selectors import job_get_visible, job_status_payload, jobs_of_caller, public_payload
from conversions.jobs.create import job_create
from conversions.jobs.services import job_delete
from conversions.web.views import converter_context, filter_context

logger = logging.getLogger(__name__)


class CrossSite(ConvertAllError):
    status, code = 403, "cross_site"


def same_origin(request):
    """True when the browser says this POST came from our own pages.

    The converter page is cached for everyone, so its form cannot carry a CSRF
    token; the browser's Sec-Fetch-Site / Origin headers stand in for it.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    return bool(origin) and urlsplit(origin).netloc == request.get_host()


def _wants_json(request):
    return "application/json" in request.headers.get("Accept", "")


def _options(pair, post):
    out = {}
    for opt in pair.options if pair else ():
        raw = post.get(f"opt_{opt.name}", "")
        if opt.type is bool:
            if raw:
                out[opt.name] = True
        elif str(raw).strip() != "":
            out[opt.name] = str(raw).strip()
    return out


def _session_key(request):
    # Anonymous history is keyed on the session: make sure this browser has one.
    request.session["anonymous_jobs"] = True
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key


def _throttle(request, kind=SubmitThrottle):
    throttle = kind()
    if not throttle.allow_request(request, None):
        wait = max(int(throttle.wait() or 1), 1)
        raise ConvertAllError(
            f"Too many uploads from your address: try again in {wait} seconds.",
            code="rate_limited",
            status=429,
            headers={"Retry-After": str(wait)},
        )


def _caller(request):
    """The identity a job is created under (owner, or this browser's session, and the client IP)."""
    anonymous = not request.user.is_authenticated
    return {
        "owner": request.user,
        "session_key": _session_key(request) if anonymous else "",
        "client_ip": client_ip(request),
    }


def _submit(request, resolve, create, error_context):
    """The shared path of the converter and filter forms: checks, one service call, the answer."""
    page = None
    try:
        # Before the body is read. Every form post is checked, signed in or not: an
        # anonymous cross-site post would still hand the browser a new session
        # cookie, replacing (logging out) the one it had.
        if not same_origin(request):
            raise CrossSite("This form was sent from another site; open the page on this site and try again.")
        # The form's action names its page too, so a body refused unread (413) still
        # gets its page back, with the error and the form to try again.
        page = resolve(request.GET)
        post = request.POST  # parses the upload: may raise 413 from the upload handler
        if page is None:
            page = resolve(post)
        _throttle(request)
        job = create(post, page, _caller(request))
    except ConvertAllError as exc:
        return _submit_error(request, exc, error_context(page) if page is not None else None)
    logger.info("page submit job=%s family=%s", job.pk, job.family)
    if _wants_json(request):
        body = public_payload(job_status_payload(job), request)
        body = {k: body[k] for k in ("jobId", "status", "statusUrl", "downloadUrl")}
        body["jobUrl"] = request.build_absolute_uri(f"/jobs/{job.pk}")
        return JsonResponse(body, status=202)
    response = redirect("job", job_id=job.pk)
    response.status_code = 303  # See Other: the browser GETs the job page, never re-posts
    return response


@csrf_exempt
@never_cache
@require_POST
def convert_submit(request):
    def resolve(post):
        return pages.resolve(post.get("converter", ""))[0]

    def create(post, pair, caller):
        return job_create(
            upload=request.FILES.get("file"),
            target_format=post.get("targetFormat") or (pair.target if pair else ""),
            options=_options(pair, post),
            upload_id=post.get("uploadId"),  # the page sent the file to the bucket itself (S3)
            **caller,
        )

    return _submit(request, resolve, create, lambda pair: ("conversions/converter.html", converter_context(pair)))


@csrf_exempt
@never_cache
@require_POST
def filter_submit(request):
    def create(post, page, caller):
        if page is None:
            raise ConvertAllError("Unknown filter; open a filter page and try again.", code="unknown_filter")
        return job_operations.current().create_job(
            uploads=request.FILES.getlist("file"), operations=[filter_pages.operation_from_form(page, post)],
            upload_id=post.get("uploadId"), **caller,
        )

    return _submit(
        request,
        lambda post: filter_pages.resolve(post.get("filter", "")),
        create,
        lambda page: ("conversions/filter.html", filter_context(page)),
    )


@csrf_exempt
@never_cache
@require_POST
def upload_submit(request):
    """The pages' direct upload (S3 storage): a presigned POST for this browser, as JSON."""
    try:
        if not same_origin(request):
            raise CrossSite("This form was sent from another site; open the page on this site and try again.")
        _throttle(request, PresignThrottle)
        body = direct.upload_create(filename=request.POST.get("filename"), **_caller(request))
    except ConvertAllError as exc:
        return JsonResponse(error_body(exc.code, exc.message), status=exc.status, headers=exc.headers)
    return JsonResponse(body, status=201)


def _sign_in_helps(request, exc):
    """True where the refusal says a signed-in user's limit is higher (the quota service words it so)."""
    if exc.status not in (413, 429) or request.user.is_authenticated:
        return False
    return re.search(r"sign(ed)?[ -]in", exc.message, re.I) is not None


def _submit_error(request, exc, page):
    message = exc.message
    if _wants_json(request):
        response = JsonResponse(error_body(exc.code, message), status=exc.status)
    elif page is not None:
        template, context = page
        context = {**context, "error": message, "error_code": exc.code, "sign_in_helps": _sign_in_helps(request, exc)}
        response = render(request, template, context, status=exc.status)
    else:
        context = {"error": message, "sign_in_helps": _sign_in_helps(request, exc)}
        response = render(request, "conversions/submit_error.html", context, status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


@never_cache
def job_page(request, job_id):
    try:
        job = job_get_visible(job_id, request.user)
    except ConvertAllError:
        raise Http404("No job with this id.") from None
    context = {
        "job": job,
        "again_url": _again_url(job),
        "active": job.status in ACTIVE_STATUSES,
        "can_delete": _history_jobs(request).filter(pk=job.pk).exists(),
    }
    return render(request, "conversions/job.html", context)


def _again_url(job):
    """Where "convert another file" goes: the page this kind of job came from."""
    if job.kind == Job.Kind.FILTER and job.operations:
        family = job_operations.current().family_of(job.source_format)
        page = filter_pages.resolve(f"{family}-{job.operations[0].get('op', '')}")
        return page.url if page else "/"
    pair, _ = pages.resolve(f"{job.source_format}-to-{job.target_format}")
    return pair.url if pair else "/"


def _history_jobs(request):
    return jobs_of_caller(request.user, request.session.session_key)


@never_cache
def history(request):
    page = Paginator(_history_jobs(request).order_by("-created_at"), 50).get_page(request.GET.get("page"))
    return render(request, "conversions/history.html", {"page": page})


@never_cache
@require_POST
def job_delete_page(request, job_id):
    # Only jobs in this browser's history (or the user's own) can be deleted here.
    job = _history_jobs(request).filter(pk=_uuid_or_404(job_id)).first()
    if job is None:
        raise Http404("No job with this id.")
    job_delete(job)
    messages.success(request, f"Deleted {job.original_filename} and its result.")
    return redirect("history")


def _uuid_or_404(raw):
    import uuid

    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise Http404("No job with this id.") from None
