from accounts.keys import bearer_token, key_for_token
from conversions.jobs.quotas import max_upload_bytes, upload_limit_whose


class UploadLimitMiddleware:
    """Set the upload size limit of this caller before any upload is parsed.

    The upload handler (conversions/files/uploads.py) reads `request.max_upload_bytes`
    while the body streams in, which happens before DRF authenticates; so the
    caller is resolved here from the API key or the session.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.content_type == "multipart/form-data":
            caller = self._caller(request)
            request.max_upload_bytes = max_upload_bytes(caller)
            request.max_upload_whose = upload_limit_whose(caller)
        return self.get_response(request)

    @staticmethod
    def _caller(request):
        token = bearer_token(request)
        if token is not None:
            key = key_for_token(token)
            return key.user if key is not None else None
        return getattr(request, "user", None)
