"""The `uploads` and `outputs` storages: keys made by the server, never the user."""

import shutil
import unicodedata
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, storages
from django.utils.http import content_disposition_header

from conversions.files import s3io

COPY_CHUNK = 1024 * 1024


def uploads():
    return storages["uploads"]


def outputs():
    return storages["outputs"]


def is_local(storage):
    return isinstance(storage, FileSystemStorage)


def source_key(job_id, fmt):
    return f"uploads/{job_id}/source.{fmt}"


def output_key(job_id, fmt):
    return f"outputs/{job_id}/result.{fmt}"


def save_file(storage, key, path_or_file):
    """Store a local file under `key`, overwriting any earlier object there."""
    if s3io.is_s3(storage) and s3io.save(storage, key, path_or_file):
        return key
    if isinstance(path_or_file, (str, Path)):
        with open(path_or_file, "rb") as fh:
            return storage.save(key, File(fh, name=Path(path_or_file).name))
    path_or_file.seek(0)
    return storage.save(key, File(path_or_file))


def fetch_to(storage, key, dest):
    """Copy a stored object to a local path in chunks."""
    if s3io.is_s3(storage):
        return s3io.fetch_to(storage, key, dest)
    with storage.open(key, "rb") as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, COPY_CHUNK)
    return dest


def delete_quietly(storage, key):
    if key:
        storage.delete(key)


# Control (Cc), format (Cf: bidi overrides such as U+202E, zero-width joiners) and
# line/paragraph separators (Zl, Zp): invisible or reordering, they make
# "invoice\u202Efdp.exe" display as "invoiceexe.pdf".
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def safe_filename(name, default="file"):
    """Display name for Content-Disposition: no path, no control, format or separator characters."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = name.replace('"', "").strip().strip(".")
    return name[:200] or default


def output_filename(original, fmt):
    stem = safe_filename(original).rsplit(".", 1)[0] or "converted"
    return f"{stem}.{fmt}"


def download_url(storage, key, filename, content_type):
    """A short-lived presigned URL that downloads as an attachment."""
    return storage.url(
        key,
        parameters={
            "ResponseContentDisposition": content_disposition_header(True, filename),
            "ResponseContentType": content_type,
        },
        expire=settings.PRESIGNED_URL_SECONDS,
    )
