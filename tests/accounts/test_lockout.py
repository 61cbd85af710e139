"""Log-in and admin log-in are rate-limited per account and per address (django-axes)."""

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-pass-1"


@pytest.fixture
def ann():
    return User.objects.create_user("ann", "ann@example.com", PASSWORD)


def login(client, username, password, ip="203.0.113.10", path="/accounts/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_an_account_is_locked_after_the_failure_limit_from_any_address(client, ann, settings):
    answers = [login(client, "ann", "wrong", ip=f"198.51.100.{n}").status_code for n in range(settings.AXES_FAILURE_LIMIT)]
    assert answers == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the form again, then locked
    locked = login(client, "ann", PASSWORD, ip="192.0.2.99")  # the right password, from a new address
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert "Too many log-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    other = User.objects.create_user("bob", "bob@example.com", PASSWORD)
    assert login(client, "bob", PASSWORD, ip="192.0.2.99").status_code == 302  # another account is not locked
    assert client.session["_auth_user_id"] == str(other.pk)


def test_an_address_is_locked_after_the_failure_limit_across_accounts(client, ann, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        login(client, f"guess{n}", "wrong", ip="203.0.113.10")
    assert login(client, "ann", PASSWORD, ip="203.0.113.10").status_code == 429
    assert login(client, "ann", PASSWORD, ip="203.0.113.11").status_code == 302


def test_ipv6_addresses_of_one_64_share_their_lockout(client, ann, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        login(client, f"guess{n}", "wrong", ip=f"2001:db8:7:8::{n + 1}")
    assert login(client, "ann", PASSWORD, ip="2001:db8:7:8:ffff::1").status_code == 429


def test_the_admin_log_in_is_locked_too(client, settings):
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "root", "wrong", path="/admin/login/").status_code == 200
    assert login(client, "root", "wrong", path="/admin/login/").status_code == 429
    locked = login(client, "root", PASSWORD, path="/admin/login/", ip="192.0.2.5")
    assert locked.status_code == 429
    assert client.get("/admin/", REMOTE_ADDR="192.0.2.5").status_code == 302  # still logged out
