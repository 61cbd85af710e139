"""Pages that belong to one browser or user: submit, a job's page, history.

These are never cached (`no-store`). The converter page's form posts here:
with JavaScript as an XMLHttpRequest asking for JSON (upload progress, then
status polling on the API); without it as a plain form POST answered with a
303 to `/jobs/<id>`, which refreshes itself until the job is done.
"""

import logging
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import pages
from .api.throttles import SubmitThrottle
from .clientip import client_ip
from .errors import ConvertAllError, error_body
from .models import ACTIVE_STATUSES, Job
from .selectors import job_get_visible, job_status_payload, public_payload
from .services import job_create, job_delete
from .views import converter_context

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


def _throttle(request):
    throttle = SubmitThrottle()
    if not throttle.allow_request(request, None):
        wait = max(int(throttle.wait() or 1), 1)
        raise ConvertAllError(
            f"Too many uploads from your address: try again in {wait} seconds.",
            code="rate_limited",
            status=429,
            headers={"Retry-After": str(wait)},
        )


@csrf_exempt
@never_cache
@require_POST
def convert_submit(request):
    pair = None
    try:
        post = request.POST  # parses the upload: may raise 413 from the upload handler
        pair, _ = pages.resolve(post.get("converter", ""))
        if request.user.is_authenticated and not same_origin(request):
            raise CrossSite("This form was sent from another site; open the converter page and try again.")
        _throttle(request)
        job = job_create(
            upload=request.FILES.get("file"),
            target_format=post.get("targetFormat") or (pair.target if pair else ""),
            options=_options(pair, post),
            owner=request.user,
            session_key="" if request.user.is_authenticated else _session_key(request),
            client_ip=client_ip(request),
        )
    except ConvertAllError as exc:
        return _submit_error(request, pair, exc)
    logger.info("page submit job=%s family=%s", job.pk, job.family)
    if _wants_json(request):
        body = public_payload(job_status_payload(job), request)
        body = {k: body[k] for k in ("jobId", "status", "statusUrl", "downloadUrl")}
        body["jobUrl"] = request.build_absolute_uri(f"/jobs/{job.pk}")
        return JsonResponse(body, status=202)
    response = redirect("job", job_id=job.pk)
    response.status_code = 303  # See Other: the browser GETs the job page, never re-posts
    return response


def _submit_error(request, pair, exc):
    message = exc.message
    if exc.code == "file_too_large" and not request.user.is_authenticated:
        message += " Signed-in users may upload larger files."
    if _wants_json(request):
        response = JsonResponse(error_body(exc.code, message), status=exc.status)
    elif pair is not None:
        context = converter_context(pair, error=message, error_code=exc.code)
        response = render(request, "conversions/converter.html", context, status=exc.status)
    else:
        response = render(request, "conversions/submit_error.html", {"error": message}, status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


@never_cache
def job_page(request, job_id):
    try:
        job = job_get_visible(job_id, request.user)
    except ConvertAllError:
        raise Http404("No job with this id.") from None
    pair, _ = pages.resolve(f"{job.source_format}-to-{job.target_format}")
    context = {
        "job": job,
        "pair": pair,
        "active": job.status in ACTIVE_STATUSES,
        "can_delete": _history_jobs(request).filter(pk=job.pk).exists(),
    }
    return render(request, "conversions/job.html", context)


def _history_jobs(request):
    if request.user.is_authenticated:
        return Job.objects.filter(owner=request.user)
    key = request.session.session_key
    if key:
        return Job.objects.filter(owner__isnull=True, session_key=key)
    return Job.objects.none()


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
