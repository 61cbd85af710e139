"""Account pages: sign up, the account page (usage, API keys), who-am-I for cached pages."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from conversions.web.clientip import client_ip
from accounts import keys
from conversions.jobs import quotas
from accounts.services import claim_browser_jobs
from accounts.forms import ApiKeyForm, SignUpForm
from accounts.models import ApiKey


class LoginView(auth_views.LoginView):
    def form_valid(self, form):
        session_key = self.request.session.session_key
        response = super().form_valid(form)
        claim_browser_jobs(form.get_user(), session_key)
        return response


@never_cache
def signup(request):
    if request.user.is_authenticated:
        return redirect("account")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        session_key = request.session.session_key
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        claim_browser_jobs(user, session_key)
        messages.success(request, "Welcome! Your account is ready.")
        return redirect("account")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


def _account_context(request, **extra):
    limits = quotas.limits_for(request.user)
    return {
        "limits": limits,
        "usage": quotas.usage(request.user, client_ip(request)),
        "keys": ApiKey.objects.filter(user=request.user),
        "form": ApiKeyForm(),
        **extra,
    }


@never_cache
@login_required
def account(request):
    return render(request, "accounts/account.html", _account_context(request))


@never_cache
@login_required
@require_POST
def key_create(request):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return render(request, "accounts/account.html", _account_context(request, form=form), status=400)
    key, raw = keys.key_create(user=request.user, name=form.cleaned_data["name"])
    # The raw key is shown in this answer only: never stored, never redirected through a cookie.
    context = _account_context(request, new_key=key, new_secret=raw)
    return render(request, "accounts/account.html", context, status=201)


@never_cache
@login_required
@require_POST
def key_revoke(request, key_id):
    if not keys.key_revoke(user=request.user, key_id=key_id):
        raise Http404("No such key.")
    messages.success(request, "The key was revoked; programs using it now get 401.")
    return redirect("account")


@never_cache
def me(request):
    """Who is signed in, for the header of cached pages (answered no-store)."""
    user = request.user
    limits = quotas.limits_for(user)
    body = {
        "authenticated": user.is_authenticated,
        "limits": {"tier": limits.tier, "maxUploadBytes": limits.max_upload_bytes},
    }
    if user.is_authenticated:
        body["username"] = user.get_username()
    return JsonResponse(body)
