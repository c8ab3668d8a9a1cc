"""Cognito account pages at allauth's paths, under allauth's URL names.

``templates/base.html`` and ``LOGIN_URL`` name ``account_login``,
``account_signup`` and ``account_logout``; they work in both modes.
"""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.sign_in, name="account_login"),
    path("signup/", views.sign_up, name="account_signup"),
    path("logout/", views.sign_out, name="account_logout"),
    path("confirm-email/", views.confirm, name="account_confirm_code"),
    path("confirm-email/resend/", views.resend_code, name="account_resend_code"),
    path("password/reset/", views.forgot_password, name="account_reset_password"),
    path("password/reset/code/", views.reset_password, name="account_reset_password_code"),
]
