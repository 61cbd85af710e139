"""Every HTML page carries a Content-Security-Policy that its own markup satisfies."""

import re

import pytest
from django.contrib.auth.models import User

from conversions.web.csp import POLICY

pytestmark = pytest.mark.django_db

PAGES = ["/", "/converters/", "/converters/png-to-jpg", "/filters/image-compress", "/history", "/accounts/login/",
         "/accounts/signup/", "/accounts/password_reset/", "/admin/login/"]  # fmt: skip


def inline_violations(html):
    """What `script-src 'self'; style-src 'self'` would block in this markup."""
    found = []
    found += [m for m in re.findall(r"<script\b[^>]*>", html, re.I) if "src=" not in m]
    found += re.findall(r"<style\b", html, re.I)
    found += re.findall(r"\sstyle\s*=", html, re.I)
    found += re.findall(r"\son[a-z]+\s*=\s*[\"']", html, re.I)
    found += re.findall(r"javascript:", html, re.I)
    return found


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_the_policy_and_need_nothing_inline(client, path):
    resp = client.get(path, follow=True)
    assert resp.status_code == 200, path
    assert resp["Content-Security-Policy"] == POLICY
    assert "script-src 'self';" in POLICY and "unsafe-inline" not in POLICY and "frame-ancestors 'none'" in POLICY
    assert inline_violations(resp.content.decode()) == [], path


def test_admin_pages_for_staff_need_nothing_inline(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-long-enough-1"))
    for path in ("/admin/", "/admin/conversions/job/", "/admin/auth/user/add/"):
        resp = client.get(path)
        assert resp.status_code == 200 and resp["Content-Security-Policy"] == POLICY, path
        assert inline_violations(resp.content.decode()) == [], path


def test_the_api_docs_load_their_script_from_a_file(client):
    resp = client.get("/api/docs")
    assert resp.status_code == 200
    policy = resp["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self' 'unsafe-inline'" in policy
    html = resp.content.decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all("src=" in s for s in scripts), scripts
    script_url = re.findall(r'<script src="([^"]*\?script[^"]*)"', html)[0].replace("&amp;", "&")
    assert client.get(script_url).status_code == 200


def test_json_answers_carry_no_page_policy(api):
    assert "Content-Security-Policy" not in api.get("/api/v1/formats")
