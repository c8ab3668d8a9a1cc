"""The person's own settings pages that are not allauth's: API tokens."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from .models import ApiToken, AuthenticatedRequest

# Enough for every script and device a person runs; more is a leak waiting to happen.
MAX_ACTIVE_TOKENS = 20


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=64,
        strip=True,
        error_messages={
            "required": "Name the token after what will use it, e.g. “backup script”.",
            "max_length": "A token's name has at most 64 characters.",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: AuthenticatedRequest) -> HttpResponse:
    mine = ApiToken.objects.filter(user=request.user, revoked_at__isnull=True)
    form = TokenForm(request.POST or None)
    secret = ""
    if request.method == "POST" and form.is_valid():
        if mine.count() >= MAX_ACTIVE_TOKENS:
            form.add_error("name", f"You have {MAX_ACTIVE_TOKENS} tokens; revoke one first.")
        else:
            _, secret = ApiToken.objects.issue(request.user, form.cleaned_data["name"])
            form = TokenForm()
    context = {"tokens": mine, "form": form, "secret": secret}
    response = render(request, "accounts/tokens.html", context)
    response["Cache-Control"] = "no-store"  # the page may hold a secret
    return response


@login_required
@require_POST
def revoke_token(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user, revoked_at__isnull=True)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    messages.success(request, f"Revoked “{token.name}”; it no longer works.")
    return redirect("accounts:tokens")
