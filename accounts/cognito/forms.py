"""Forms of the Cognito account pages, with allauth's field names.

Each form checks what can be checked here (an address, matching passwords, a
code's shape); Cognito checks the rest, and ``add_cognito_error`` puts its
answer next to the field it is about.
"""

from __future__ import annotations

from typing import ClassVar

from django import forms

from .client import CognitoError


def _email_field() -> forms.EmailField:
    return forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "Email address"}),
    )


def _password_field(label: str, autocomplete: str = "new-password") -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete, "placeholder": label}),
    )


def _code_field() -> forms.CharField:
    return forms.CharField(
        label="Code",
        max_length=64,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "placeholder": "Code from the email",
            }
        ),
    )


class CognitoForm(forms.Form):
    """Cleans the field names the account forms share; Django calls only those a form has."""

    # Cognito error code -> the field its message belongs to (else the form's top).
    error_fields: ClassVar[dict[str, str]] = {}

    def add_cognito_error(self, error: CognitoError) -> None:
        self.add_error(self.error_fields.get(error.code), error.message)

    def clean_email(self) -> str:
        # The pool's usernames are addresses; one spelling avoids two accounts.
        return str(self.cleaned_data["email"]).strip().lower()

    def clean_login(self) -> str:
        return str(self.cleaned_data["login"]).strip().lower()

    def clean_code(self) -> str:
        # Codes are copied out of emails, often with a space in them.
        return "".join(str(self.cleaned_data["code"]).split())

    def clean_password2(self) -> str:
        first = self.cleaned_data.get("password1")
        second = str(self.cleaned_data["password2"])
        if first is not None and first != second:
            raise forms.ValidationError("You must type the same password each time.")
        return second


class SignInForm(CognitoForm):
    login = _email_field()
    password = _password_field("Password", autocomplete="current-password")


class SignUpForm(CognitoForm):
    email = _email_field()
    password1 = _password_field("Password")
    password2 = _password_field("Password (again)")
    error_fields: ClassVar[dict[str, str]] = {
        "UsernameExistsException": "email",
        "AliasExistsException": "email",
        "InvalidPasswordException": "password1",
    }


class ConfirmForm(CognitoForm):
    email = _email_field()
    code = _code_field()
    error_fields: ClassVar[dict[str, str]] = {
        "CodeMismatchException": "code",
        "ExpiredCodeException": "code",
        "UserNotFoundException": "email",
    }


class EmailForm(CognitoForm):
    """Asks for a new sign-up code, or for a password-reset code."""

    email = _email_field()
    error_fields: ClassVar[dict[str, str]] = {"UserNotFoundException": "email"}


class ResetPasswordForm(CognitoForm):
    email = _email_field()
    code = _code_field()
    password1 = _password_field("New password")
    password2 = _password_field("New password (again)")
    error_fields: ClassVar[dict[str, str]] = {
        "CodeMismatchException": "code",
        "ExpiredCodeException": "code",
        "UserNotFoundException": "code",
        "InvalidPasswordException": "password1",
        "PasswordHistoryPolicyViolationException": "password1",
    }
