"""The account pages in Cognito mode, at allauth's URLs and URL names.

Forms validate, the views call ``client`` and turn every ``CognitoError``
into words on the page: Cognito's failures never become a 500.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from gallery import ratelimit

from . import client
from .client import CognitoError, Tokens
from .forms import (
    CognitoForm,
    ConfirmForm,
    EmailForm,
    ResetPasswordForm,
    SignInForm,
    SignUpForm,
)

log = logging.getLogger(__name__)

# The address being signed up or reset, so that the next page asks for it only once.
PENDING_EMAIL = "cognito_email"
# Kept to end the Cognito session (global sign-out) along with this one.
ACCESS_TOKEN = "cognito_access_token"  # noqa: S105 (a session key, not a secret)
EMAIL_WINDOW_SECONDS = 3600
TOO_MANY_EMAILS = "Too many emails were asked for from your network. Please try again in an hour."


def _data(request: HttpRequest) -> QueryDict | None:
    return request.POST if request.method == "POST" else None


def _pending(request: HttpRequest) -> dict[str, str]:
    return {"email": request.session.get(PENDING_EMAIL, "")}


def _page(request: HttpRequest, template: str, form: object) -> HttpResponse:
    # A local moto server stands in for Cognito: it sends no email and takes any code.
    stand_in = settings.DEBUG and bool(settings.AWS_ENDPOINT_URL)
    context = {"form": form, "cognito_stand_in": stand_in}
    return render(request, f"accounts/cognito/{template}.html", context)


def _client_ip(request: HttpRequest) -> str:
    # Behind our nginx the visitor's address is in the header nginx overwrites
    # (settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER); REMOTE_ADDR is nginx itself.
    header = getattr(settings, "ALLAUTH_TRUSTED_CLIENT_IP_HEADER", None)
    forwarded = request.headers.get(header, "").strip() if header else ""
    return forwarded or str(request.META.get("REMOTE_ADDR", ""))


def _may_send_email(request: HttpRequest) -> bool:
    """Count one Cognito email (sign-up, resend, reset) against the client's hourly budget."""
    return ratelimit.allow(
        f"cognito-email:{_client_ip(request)}",
        settings.FINDLABELS_COGNITO_EMAILS_PER_HOUR,
        window_seconds=EMAIL_WINDOW_SECONDS,
    )


def _too_many(request: HttpRequest, template: str, form: CognitoForm) -> HttpResponse:
    form.add_error(None, TOO_MANY_EMAILS)
    response = _page(request, template, form)
    response.status_code = 429
    return response


def _next_url(request: HttpRequest) -> str:
    candidate = request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _log_in(request: HttpRequest, tokens: Tokens) -> bool:
    user = authenticate(request, cognito_id_token=tokens.id_token)
    if user is None:
        return False  # the backend logged why
    login(request, user)
    request.session[ACCESS_TOKEN] = tokens.access_token
    request.session.pop(PENDING_EMAIL, None)
    return True


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = SignInForm(_data(request), initial={"login": _pending(request)["email"]})
    if form.is_valid():
        email = form.cleaned_data["login"]
        try:
            tokens = client.sign_in(email, form.cleaned_data["password"])
        except CognitoError as error:
            if error.code == client.UNCONFIRMED:
                request.session[PENDING_EMAIL] = email
                messages.warning(request, error.message)
                return redirect("account_confirm_code")
            form.add_cognito_error(error)
        else:
            if _log_in(request, tokens):
                return redirect(_next_url(request))
            form.add_error(None, client.UNAVAILABLE)
    return _page(request, "login", form)


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignUpForm(_data(request))
    if form.is_valid():
        if not _may_send_email(request):
            return _too_many(request, "signup", form)
        email = form.cleaned_data["email"]
        try:
            client.sign_up(email, form.cleaned_data["password1"])
        except CognitoError as error:
            form.add_cognito_error(error)
        else:
            request.session[PENDING_EMAIL] = email
            messages.success(request, f"We emailed a code to {email}. Enter it here.")
            return redirect("account_confirm_code")
    return _page(request, "signup", form)


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest) -> HttpResponse:
    form = ConfirmForm(_data(request), initial=_pending(request))
    if form.is_valid():
        email = form.cleaned_data["email"]
        try:
            client.confirm_sign_up(email, form.cleaned_data["code"])
        except CognitoError as error:
            form.add_cognito_error(error)
        else:
            request.session[PENDING_EMAIL] = email
            messages.success(request, "Your email address is confirmed. Sign in to start.")
            return redirect("account_login")
    return _page(request, "confirm", form)


@require_POST
def resend_code(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the email address you signed up with.")
        return redirect("account_confirm_code")
    email = form.cleaned_data["email"]
    request.session[PENDING_EMAIL] = email
    if not _may_send_email(request):
        messages.error(request, TOO_MANY_EMAILS)
        return redirect("account_confirm_code")
    try:
        client.resend_code(email)
    except CognitoError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"We sent a new code to {email}.")
    return redirect("account_confirm_code")


@require_http_methods(["GET", "POST"])
def forgot_password(request: HttpRequest) -> HttpResponse:
    form = EmailForm(_data(request), initial=_pending(request))
    if form.is_valid():
        if not _may_send_email(request):
            return _too_many(request, "password_reset", form)
        email = form.cleaned_data["email"]
        try:
            client.forgot_password(email)
        except CognitoError as error:
            form.add_cognito_error(error)
        else:
            request.session[PENDING_EMAIL] = email
            messages.success(request, f"If {email} has an account here, we emailed it a code.")
            return redirect("account_reset_password_code")
    return _page(request, "password_reset", form)


@require_http_methods(["GET", "POST"])
def reset_password(request: HttpRequest) -> HttpResponse:
    form = ResetPasswordForm(_data(request), initial=_pending(request))
    if form.is_valid():
        email = form.cleaned_data["email"]
        data = form.cleaned_data
        try:
            client.confirm_forgot_password(email, data["code"], data["password1"])
        except CognitoError as error:
            form.add_cognito_error(error)
        else:
            request.session[PENDING_EMAIL] = email
            messages.success(request, "Your password is changed. Sign in with the new one.")
            return redirect("account_login")
    return _page(request, "password_reset_code", form)


@require_http_methods(["GET", "POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        if not request.user.is_authenticated:
            return redirect("account_login")
        return _page(request, "logout", None)
    access_token = request.session.get(ACCESS_TOKEN)
    if access_token:
        try:
            client.sign_out(access_token)
        except CognitoError as error:
            # This session ends whatever Cognito says; an expired token has
            # nothing left to revoke, and an outage is already logged.
            log.info("Cognito global sign-out skipped: %s", error.code or error)
    logout(request)
    messages.success(request, "You have signed out.")
    return redirect("account_login")
