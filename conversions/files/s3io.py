"""Direct S3 transfers for the job path: fewer requests and bounded memory.

django-storages goes through boto3's transfer manager for every object: a
thread pool per call, a HEAD before each download, and, for a file object,
up to ten 8 MB parts held in memory during a multipart upload. On the job
path (store the upload, fetch it in the worker, store the output) that cost
~20 ms per job against a loopback S3 server and ~80 MB of RSS per large
upload. Here a small object is one PUT or one GET, and a large local file is
uploaded by name, which boto3 reads part by part from disk.
"""

import logging
import shutil
from pathlib import Path

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

# Below this a single PUT; above it boto3's multipart upload (S3's PUT limit is 5 GB).
SINGLE_PUT_BYTES = 8 * 1024 * 1024
COPY_CHUNK = 1024 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound"}


def is_s3(storage):
    return hasattr(storage, "bucket_name") and hasattr(storage, "_get_write_parameters")


def _local_path(path_or_file):
    if isinstance(path_or_file, (str, Path)):
        return Path(path_or_file)
    temp = getattr(path_or_file, "temporary_file_path", None)
    return Path(temp()) if temp else None


def save(storage, key, path_or_file):
    """Store a local file under `key`; None when it is not on disk (caller falls back)."""
    path = _local_path(path_or_file)
    if path is None:
        return None
    name = storage._normalize_name(key)
    params = storage._get_write_parameters(name)
    size = path.stat().st_size
    if size <= SINGLE_PUT_BYTES:
        with open(path, "rb") as fh:
            storage.connection.meta.client.put_object(Bucket=storage.bucket_name, Key=name, Body=fh, **params)
    else:
        # By name, not by file object: parts are read from disk as they are sent.
        storage.bucket.upload_file(str(path), name, ExtraArgs=params, Config=storage.transfer_config)
    return key


def fetch_to(storage, key, dest):
    """One streamed GET into `dest`; FileNotFoundError when the object is gone."""
    try:
        client = storage.connection.meta.client
        body = client.get_object(Bucket=storage.bucket_name, Key=storage._normalize_name(key))["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING:
            raise FileNotFoundError(key) from None
        raise
    with body, open(dest, "wb") as out:
        shutil.copyfileobj(body, out, COPY_CHUNK)
    return dest


def presigned_post(storage, key, *, max_bytes, seconds):
    """A presigned POST (SigV4, the storage's client) whose policy fixes the key, the size range and the expiry.

    boto3 adds the exact `key` condition itself; S3 refuses a POST whose file
    is outside `content-length-range` (EntityTooLarge) or that comes after the
    policy's expiration.
    """
    return storage.connection.meta.client.generate_presigned_post(
        Bucket=storage.bucket_name,
        Key=storage._normalize_name(key),
        Conditions=[["content-length-range", 1, max_bytes]],
        ExpiresIn=seconds,
    )


def list_objects(storage, prefix):
    """(name, LastModified) of each object under `prefix`: ListObjectsV2, 1,000 objects a request."""
    client = storage.connection.meta.client
    location = storage._normalize_name(prefix)[: -len(prefix)] if prefix else ""
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=storage.bucket_name, Prefix=storage._normalize_name(prefix)
    ):
        for item in page.get("Contents", []):
            yield item["Key"][len(location):], item["LastModified"]
