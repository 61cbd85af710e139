"""Uploads straight to the bucket: presign, hand one to one job, check it in the worker, purge it unused.

With S3 storage a client may send its file to S3 itself (POST
/api/v1/uploads answers a presigned POST), then name it by `uploadId` in
convert or filter: the web process never holds the bytes. It cannot sniff
them either, so the job is described from the file's name (its extension is
the claimed format, which routes the job to its queue) and the worker runs
the checks of the multipart path on the stored object before converting it:
the sniff against the name, and the size limit. Their refusals end the job
`failed` with the codes and messages of today's 415 and 413 answers.
"""

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from conversions.engine import formats, sniff
from conversions.errors import BadRequest, ConversionFailed, NotReady, TooLarge, UnsupportedType
from conversions.files import s3io, storage
from conversions.files.uploads import too_large
from conversions.jobs.quotas import enforce, max_upload_bytes, upload_limit_whose
from conversions.models import Upload

logger = logging.getLogger(__name__)


def upload_key(upload_id):
    return f"uploads/{upload_id}/source"


def _direct_storage():
    uploads = storage.uploads()
    if not s3io.is_s3(uploads):
        raise NotReady(
            "Direct uploads need S3 storage and this server stores files locally: "
            "send the file itself as the multipart field 'file' of /api/v1/convert or /api/v1/filter.",
            code="uploads_unavailable",
        )
    return uploads


def enabled():
    """Whether clients may upload straight to the bucket (S3 storage); the pages use it then."""
    return s3io.is_s3(storage.uploads())


_origins = {}


def upload_origin():
    """The scheme://host the presigned POSTs go to (the pages' CSP lets scripts connect there); "" when local.

    Signing a POST is local work (no request): one made for a dummy key says
    where boto3 sends them, virtual-hosted or path style alike.
    """
    if not enabled():
        return ""
    bucket = storage.uploads()
    if bucket.bucket_name not in _origins:
        parts = urlsplit(s3io.presigned_post(bucket, "uploads/origin-probe", max_bytes=1, seconds=60)["url"])
        _origins[bucket.bucket_name] = f"{parts.scheme}://{parts.netloc}"
    return _origins[bucket.bucket_name]


_SALT = "convertall.direct-upload"


def _caller_id(owner, session_key, client_ip):
    """Who may use an upload, scoped like the caller's jobs: the account, else the session, else the IP.

    The session key and the IP enter the uploadId only as keyed hashes: the
    id is the client's to keep and log, and a session key is a credential.
    """
    if owner is not None and owner.is_authenticated:
        return f"u{owner.pk}"
    if session_key:
        return "s" + salted_hmac(_SALT, session_key).hexdigest()[:24]
    if client_ip:
        return "a" + salted_hmac(_SALT, client_ip).hexdigest()[:24]
    return ""


def upload_create(*, filename, owner=None, session_key="", client_ip=None):
    """A presigned POST for one file: `{uploadId, url, fields, expiresAt}`; no database write.

    The uploadId is signed (the server's SECRET_KEY): it carries the upload's
    id, its file name and its caller, so the convert that names it needs no
    row written now. Its row is inserted by that convert, in the job's own
    transaction, which also makes it single-use.
    """
    bucket = _direct_storage()
    enforce(user=owner, client_ip=client_ip, session_key=session_key)  # early 429, as for a multipart submit
    name = storage.safe_filename(filename or "", default="")
    if not name:
        raise BadRequest("'filename' is required: the name of the file you will upload, e.g. report.pdf.",
                         code="missing_filename")
    fmt = formats.extension_of(name)
    if fmt is None:
        raise UnsupportedType(
            f"'{name}' has no extension this server knows: name the file with its format's extension "
            "(e.g. report.pdf), or send it as multipart, where its type is detected from its content.",
            code="unsupported_format",
        )
    now = timezone.now()
    seconds = settings.DIRECT_UPLOAD_SECONDS
    pk = uuid.uuid4()
    post = s3io.presigned_post(bucket, upload_key(pk), max_bytes=max_upload_bytes(owner), seconds=seconds)
    token = signing.dumps(
        {"id": pk.hex, "name": name, "by": _caller_id(owner, session_key, client_ip), "at": int(now.timestamp())},
        salt=_SALT, compress=True,
    )
    return {"uploadId": token, "url": post["url"], "fields": post["fields"],
            "expiresAt": now + timedelta(seconds=seconds)}


@dataclass(frozen=True)
class StoredSource:
    """What the web tier knows of a direct upload without asking the bucket: its (unsaved) row and format."""

    upload: Upload
    fmt: str


def stored_source(upload_id, *, owner=None, session_key="", client_ip=None, accepted):
    """The caller's unused upload `upload_id`, of a format in `accepted`; 400/409/415 otherwise.

    No request to S3: whether the object is there, and its size, are learnt
    by the worker's one GET (a job's S3 cost is that GET and the output's PUT).
    An upload the client never sent ends its job `failed`/`upload_missing`.
    """
    upload = _caller_upload(upload_id, owner, session_key, client_ip)
    if Upload.objects.filter(pk=upload.pk).exists():
        raise NotReady("This upload was already converted; upload the file again for another job.",
                       code="upload_used")
    fmt = formats.extension_of(upload.filename)
    if fmt not in accepted:
        raise UnsupportedType(f"{(fmt or 'These').upper()} files are not accepted here.", code="unsupported_format")
    _direct_storage()  # 409 uploads_unavailable if the storage is no longer S3
    return StoredSource(upload=upload, fmt=fmt)


def _caller_upload(upload_id, owner, session_key, client_ip):
    """The unsaved row of the signed `upload_id` if it is this caller's and not past the uploads' retention."""
    try:
        data = signing.loads(str(upload_id), salt=_SALT, max_age=settings.UPLOAD_RETENTION_HOURS * 3600)
        pk = uuid.UUID(hex=data["id"])
        mine = data["by"] and constant_time_compare(data["by"], _caller_id(owner, session_key, client_ip))
    except signing.SignatureExpired:
        raise BadRequest(f"This uploadId is older than {settings.UPLOAD_RETENTION_HOURS} hours and its file is "
                         "deleted: upload the file again.", code="upload_not_found") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        mine = False
    if not mine:
        # Another caller's upload reads as unknown: its id says nothing about it.
        raise BadRequest("No upload with this uploadId for this caller.", code="upload_not_found")
    created = datetime.fromtimestamp(data["at"], tz=dt_timezone.utc)
    return Upload(
        id=pk, key=upload_key(pk), filename=data["name"], max_bytes=max_upload_bytes(owner),
        owner=owner if owner is not None and owner.is_authenticated else None, session_key=session_key or "",
        client_ip=client_ip, created_at=created, expires_at=created + timedelta(seconds=settings.DIRECT_UPLOAD_SECONDS),
    )


def hand_to_job(source, job):
    """Give the upload to `job`: its row is inserted now, inside the job's insert, so it serves one job, ever."""
    source.upload.job = job
    try:
        with transaction.atomic():  # a savepoint: a second use's conflict is answered, not a broken transaction
            source.upload.save(force_insert=True)
    except IntegrityError:
        raise NotReady("This upload was already converted; upload the file again for another job.",
                       code="upload_used") from None


def is_direct(job):
    """A direct upload's job, not yet checked by the worker (no sniff has seen its bytes)."""
    return not job.detected_type


def source_missing(job):
    """The failure of a job whose upload is not in storage: never sent (direct upload), or already purged."""
    if is_direct(job):
        return ConversionFailed(
            "Nothing was stored for this uploadId when the job started: POST the file to the upload's url "
            "with its fields and wait for S3's answer before converting. To try again, ask for a new "
            "uploadId (this one is used) and send the file first.",
            code="upload_missing",
        )
    return ConversionFailed("The uploaded file is no longer stored; upload it again.", code="source_missing")


def check_stored(job, path):
    """In the worker: the multipart path's checks on a direct upload, refusals as the job's failure.

    Runs for a job no sniff has seen yet (detected_type empty: only direct
    uploads). The same functions as the 415 and 413 answers, so the same codes
    and messages.
    """
    if not is_direct(job):
        return
    try:
        size = job.source_size = path.stat().st_size  # the web never asked S3: the size is learnt here
        if size == 0:
            raise UnsupportedType("The uploaded file is empty.", code="empty_file")
        limit = max_upload_bytes(job.owner)
        if size > limit:
            raise too_large(limit, upload_limit_whose(job.owner))
        fmt, mime = sniff.identify(path, job.original_filename, accepted={job.source_format})
    except (UnsupportedType, TooLarge) as exc:
        raise ConversionFailed(exc.message, code=exc.code) from None
    job.detected_type = mime
    logger.info("direct upload checked job=%s format=%s mime=%s bytes=%s", job.pk, fmt, mime, size)


def purge_unused(now=None):
    """Delete the direct uploads no job took within UPLOAD_RETENTION_HOURS.

    A taken upload has a row (inserted by its convert) and goes with its job;
    an untaken one exists only in the bucket, so the bucket is listed (one
    request per 1,000 objects, per purge run). In production the uploads
    bucket's 24 h lifecycle rule deletes them as well.
    """
    if not enabled():
        return 0
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.UPLOAD_RETENTION_HOURS)
    bucket = storage.uploads()
    old = {}
    for key, modified in s3io.list_objects(bucket, "uploads/"):
        match = _DIRECT_KEY.fullmatch(key)
        if match and modified < cutoff:
            old[uuid.UUID(match.group(1))] = key
    taken = set(Upload.objects.filter(pk__in=list(old)).values_list("pk", flat=True)) if old else set()
    count = 0
    for pk, key in old.items():
        if pk not in taken:
            storage.delete_quietly(bucket, key)
            count += 1
    logger.info("purge_unused_uploads: deleted=%s", count)
    return count


_DIRECT_KEY = re.compile(r"uploads/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/source")


def key_of(upload_id):
    """The object key a (validly signed) uploadId names, whoever asks: for operators and tests."""
    return upload_key(uuid.UUID(hex=signing.loads(str(upload_id), salt=_SALT)["id"]))
