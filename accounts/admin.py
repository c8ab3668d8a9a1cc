from __future__ import annotations

from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from .models import User


@secure_admin_login
def admin_sign_in(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    """The admin's sign-in page, which takes no password itself.

    Its own form has no attempt limit, so people sign in on the site's sign-in
    page (allauth's, or Cognito's in Cognito mode: whichever LOGIN_URL names)
    with its limits; secure_admin_login sends them there and refuses signed-in
    people without staff status. Staff go on; permissions decide what they see.
    """
    target = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if safe else "admin:index")


admin.site.login = admin_sign_in  # type: ignore[method-assign]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "is_active", "is_staff", "date_joined", "last_login")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "label_confidence")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
