"""`Authorization: Bearer <key>` for the API (a DRF authentication class)."""

from rest_framework import authentication, exceptions

from accounts.keys import bearer_token, key_for_token, key_touch


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        token = bearer_token(request._request)
        if token is None:
            return None
        key = key_for_token(token)
        if key is None or not key.user.is_active:
            raise exceptions.AuthenticationFailed("The API key is invalid or was revoked; create a new one under /accounts/.")
        key_touch(key)
        return key.user, key

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) with a WWW-Authenticate challenge.
        return 'Bearer realm="api"'
