"""`manage.py check --deploy` passes with the production settings (DJANGO_ENV=production)."""

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra):
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "convertall.settings",
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "convert.example.com",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "CONVERTALL_VAR_DIR": tempfile.mkdtemp(prefix="convertall-deploy-"),
        **extra,
    }


def manage(*args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_passes_with_production_settings():
    done = manage("check", "--deploy", env=production_env())
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # Every security.* check is satisfied, not merely below the failure level.
    assert "security." not in output, output


def test_production_settings_are_the_secure_ones():
    code = (
        "from django.conf import settings as s;"
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, s.LOG_FORMAT)"
    )
    done = manage("shell", "-c", code, env=production_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False True True True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https') json"


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    done = manage("check", env=env)
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr


def test_liveness_answers_a_health_check_by_ip_in_production():
    """ALB/ECS checks use the task's IP as Host: liveness must not be refused as a bad host."""
    code = (
        "from django.test import Client;"
        "c = Client(HTTP_HOST='10.0.3.17:8000');"
        "print(c.get('/api/health').status_code, c.get('/health').status_code, c.get('/api/v1/formats').status_code)"
    )
    done = manage("shell", "-c", code, env=production_env())
    assert done.returncode == 0, done.stderr
    # Liveness answers 200 over plain HTTP by IP; everything else is still refused for that host.
    assert done.stdout.strip().splitlines()[-1] == "200 200 400"


def test_check_deploy_fails_when_email_would_never_be_delivered():
    for backend in ("console", "locmem"):
        done = manage("check", "--deploy", env=production_env(EMAIL_BACKEND=f"django.core.mail.backends.{backend}.EmailBackend"))
        assert done.returncode != 0, done.stdout
        assert "convertall.E001" in done.stderr and f"{backend}.EmailBackend" in done.stderr


def test_a_bad_line_in_the_cloudflare_list_fails_the_checks(tmp_path):
    from conversions.ops import checks
    from conversions.web import clientip

    bad = tmp_path / "cloudflare_ips.txt"
    bad.write_text("# comment\n173.245.48.0/20\n173.245.48.1/20\n")
    original = clientip.CLOUDFLARE_IPS_FILE
    clientip.CLOUDFLARE_IPS_FILE = bad
    clientip.cloudflare_networks.cache_clear()
    try:
        errors = checks.check_proxy_networks(None)
    finally:
        clientip.CLOUDFLARE_IPS_FILE = original
        clientip.cloudflare_networks.cache_clear()
    assert [e.id for e in errors] == ["convertall.E002"] and "line 3" in errors[0].msg
