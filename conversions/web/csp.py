"""Content-Security-Policy on every HTML page.

The pages load their scripts and styles from /static/ only (no inline
script, no inline style, no `style=` attribute), so the policy allows
nothing else: an injected `<script>` or `<img onerror>` does not run even
if some file name ever slipped through escaping. The API docs page
(Swagger UI, served from our own static files) carries one inline `<style>`
block, and only that page allows inline styles.
"""

from django.conf import settings

from conversions.jobs import direct

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_POLICY = POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
DOCS_PATHS = ("/api/docs",)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" in response or not response.get("Content-Type", "").startswith("text/html"):
            return response
        policy = DOCS_POLICY if request.path.startswith(DOCS_PATHS) else POLICY
        if direct.enabled():  # the converter pages send files straight to the uploads bucket
            policy = policy.replace("connect-src 'self'", f"connect-src 'self' {direct.upload_origin()}")
        header = "Content-Security-Policy-Report-Only" if settings.CSP_REPORT_ONLY else "Content-Security-Policy"
        response[header] = policy
        return response
