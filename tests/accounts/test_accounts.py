import re

import pytest
from django.contrib.auth.models import User
from django.core import mail

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


def test_signup_logs_in_and_lands_on_the_account_page(client):
    resp = client.get("/accounts/signup/")
    assert resp.status_code == 200 and 'for="id_username"' in resp.content.decode()
    resp = client.post(
        "/accounts/signup/",
        {"username": "ann", "email": "Ann@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert resp.status_code == 302 and resp["Location"] == "/accounts/"
    user = User.objects.get(username="ann")
    assert user.email == "ann@example.com" and user.check_password(PASSWORD)
    page = client.get("/accounts/")
    assert page.status_code == 200
    assert "Signed in as <strong>ann</strong>" in page.content.decode()
    me = client.get("/accounts/me").json()
    assert me["authenticated"] is True and me["username"] == "ann" and me["limits"]["tier"] == "user"


def test_signup_errors_are_shown(client):
    User.objects.create_user("ann", "ann@example.com", PASSWORD)
    resp = client.post(
        "/accounts/signup/", {"username": "ann", "email": "ann@example.com", "password1": "x", "password2": "y"}
    )
    assert resp.status_code == 400
    html = resp.content.decode()
    assert 'class="errorlist"' in html and "email exists" in html
    assert User.objects.count() == 1


def test_login_logout(client):
    User.objects.create_user("ann", "ann@example.com", PASSWORD)
    assert client.get("/accounts/login/").status_code == 200
    bad = client.post("/accounts/login/", {"username": "ann", "password": "wrong"})
    assert bad.status_code == 200 and "alert" in bad.content.decode()
    resp = client.post("/accounts/login/", {"username": "ann", "password": PASSWORD})
    assert resp.status_code == 302 and resp["Location"] == "/accounts/"
    assert client.get("/accounts/me").json()["authenticated"] is True
    resp = client.post("/accounts/logout/")
    assert resp.status_code == 302 and resp["Location"] == "/"
    assert client.get("/accounts/me").json()["authenticated"] is False


def test_account_page_needs_login(client):
    resp = client.get("/accounts/")
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/?next=/accounts/")


def test_me_is_never_cached(client):
    assert "no-store" in client.get("/accounts/me")["Cache-Control"]


def test_password_reset_by_email(client):
    User.objects.create_user("ann", "ann@example.com", PASSWORD)
    assert client.get("/accounts/password_reset/").status_code == 200
    resp = client.post("/accounts/password_reset/", {"email": "ann@example.com"})
    assert resp.status_code == 302 and resp["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ann@example.com"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    resp = client.get(link, follow=True)
    assert resp.status_code == 200 and "Choose a new password" in resp.content.decode()
    resp = client.post(resp.redirect_chain[-1][0], {"new_password1": "brand-new-pass-42", "new_password2": "brand-new-pass-42"})
    assert resp.status_code == 302 and resp["Location"] == "/accounts/reset/done/"
    assert User.objects.get().check_password("brand-new-pass-42")


def test_cached_pages_show_no_user_but_private_pages_do(client):
    user = User.objects.create_user("zebulon", "z@example.com", PASSWORD)
    client.force_login(user)
    home = client.get("/")
    assert "zebulon" not in home.content.decode() and "data-account-slot" in home.content.decode()
    assert "zebulon" in client.get("/history").content.decode()


def test_this_browsers_jobs_join_the_account_on_sign_up_and_log_in(client):
    from conversions.models import Job
    from tests.builders import image_bytes, upload

    def convert(c, name):
        c.post("/convert", {"file": upload(name, image_bytes()), "converter": "png-to-jpg"},
               HTTP_ORIGIN="http://testserver")

    convert(client, "before-signup.png")
    stranger = type(client)()
    convert(stranger, "strangers.png")
    client.post("/accounts/signup/", {"username": "ann", "email": "ann@example.com", "password1": PASSWORD,
                                      "password2": PASSWORD})
    ann = User.objects.get(username="ann")
    assert list(Job.objects.filter(owner=ann).values_list("original_filename", flat=True)) == ["before-signup.png"]
    client.post("/accounts/logout/")
    convert(client, "before-login.png")
    client.post("/accounts/login/", {"username": "ann", "password": PASSWORD})
    assert Job.objects.filter(owner=ann).count() == 2
    assert Job.objects.get(original_filename="strangers.png").owner is None
    html = client.get("/history").content.decode()
    assert "before-login.png" in html and "strangers.png" not in html


def test_password_change(client):
    user = User.objects.create_user("ann", "ann@example.com", PASSWORD)
    client.force_login(user)
    assert client.get("/accounts/password_change/").status_code == 200
    resp = client.post("/accounts/password_change/", {"old_password": PASSWORD, "new_password1": "another-pass-77",
                                                      "new_password2": "another-pass-77"})
    assert resp.status_code == 302 and resp["Location"] == "/accounts/password_change/done/"
    user.refresh_from_db()
    assert user.check_password("another-pass-77")


def test_a_claimed_job_is_no_longer_visible_to_anonymous_callers_at_once(client):
    """The claim used to leave the cached copy saying `anyone with the id` for up to 60 s (issue 11)."""
    from rest_framework.test import APIClient

    from conversions.models import Job
    from tests.builders import image_bytes, upload

    client.post("/convert", {"file": upload("mine.png", image_bytes()), "converter": "png-to-jpg"},
                HTTP_ORIGIN="http://testserver")
    job = Job.objects.get(original_filename="mine.png")
    anonymous = APIClient()
    assert anonymous.get(f"/api/v1/status/{job.pk}").status_code == 200  # cached now, as anyone's
    User.objects.create_user("ann", "ann@example.com", PASSWORD)
    client.post("/accounts/login/", {"username": "ann", "password": PASSWORD})
    assert Job.objects.get(pk=job.pk).owner.username == "ann"
    assert anonymous.get(f"/api/v1/status/{job.pk}").status_code == 404
    assert client.get(f"/api/v1/status/{job.pk}").status_code == 200
