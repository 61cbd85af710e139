"""Upload handling: stream to a temporary file, count, hash, enforce the limit.

Uploads never sit in memory whole: every file goes to a temporary file in
64 KiB chunks, and its SHA-256 is computed on the way (the result cache keys
on it). The size limit answers 413 as soon as it is crossed.
"""

import hashlib

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from conversions.errors import TooLarge


def upload_limit(request):
    """The byte limit for this request (quotas may lower or raise it per user)."""
    return getattr(request, "max_upload_bytes", None) or settings.MAX_UPLOAD_BYTES


def too_large(limit, whose=""):
    mb = limit / (1024 * 1024)
    return TooLarge(f"The file is larger than the {mb:g} MB limit{whose}. Upload a smaller file.")


class LimitedUploadHandler(TemporaryFileUploadHandler):
    chunk_size = 64 * 1024

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = upload_limit(self.request)
        self.total = 0
        # Multipart framing adds a little; anything far past the limit is refused unread.
        if content_length and content_length > self.limit + 64 * 1024:
            raise too_large(self.limit, getattr(self.request, "max_upload_whose", ""))
        return None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.sha256 = hashlib.sha256()

    def receive_data_chunk(self, raw_data, start):
        self.total += len(raw_data)
        if self.total > self.limit:
            self.file.close()
            raise too_large(self.limit, getattr(self.request, "max_upload_whose", ""))
        self.sha256.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        upload = super().file_complete(file_size)
        upload.sha256 = self.sha256.hexdigest()
        return upload
