"""The one wrapper around the Cognito user pool.

Every call uses ``findlabels.aws.client("cognito-idp")``, so timeouts, bounded
retries and the endpoint are set in one place, and pycognito is handed that
same client instead of building its own. Every failure leaves this module as a
``CognitoError`` whose message can be shown to the person as it is; failures a
person cannot fix are logged here for the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from pycognito import Cognito
from pycognito.aws_srp import AWSSRP
from pycognito.exceptions import WarrantException

from findlabels import aws

log = logging.getLogger(__name__)

UNAVAILABLE = "Sign-in is not available right now. Please try again in a few minutes."
UNCONFIRMED = "UserNotConfirmedException"
_TOO_MANY = "Too many attempts. Please wait a few minutes and try again."
_ALREADY_CONFIRMED = "This email address is already confirmed. Sign in."
_NO_ACCOUNT = "There is no account with this email address. Sign up first."
_WRONG_CODE = "That code is not correct. Check the email we sent and try again."

# Cognito's error codes, in words a person can act on. Codes missing here
# (configuration, permissions, outages) are the operator's business: the person
# sees UNAVAILABLE and the log gets Cognito's own words.
_MESSAGES: dict[str, str] = {
    "UsernameExistsException": (
        "An account with this email address already exists. "
        "Sign in, or reset the password if you have forgotten it."
    ),
    "AliasExistsException": "An account with this email address already exists.",
    "CodeMismatchException": _WRONG_CODE,
    "ExpiredCodeException": "That code has expired. Ask for a new one.",
    UNCONFIRMED: "Please confirm your email address first: enter the code we emailed you.",
    # Cognito says NotAuthorized both for a wrong password and for an unknown
    # address (when it prevents user-existence errors); so do we, for both.
    "NotAuthorizedException": "Email or password is not correct.",
    "UserNotFoundException": "Email or password is not correct.",
    "PasswordResetRequiredException": (
        "This account needs a new password. Use “Forgot your password?” to get a code."
    ),
    "PasswordHistoryPolicyViolationException": "Choose a password you have not used here before.",
    "TooManyRequestsException": _TOO_MANY,
    "LimitExceededException": _TOO_MANY,
    "TooManyFailedAttemptsException": _TOO_MANY,
    "CodeDeliveryFailureException": (
        "We could not send the email with your code. Check the address, or try again later."
    ),
    "InvalidParameterException": "These details were not accepted. Check them and try again.",
}

# Cognito's password-policy complaints ("Password did not conform with policy:
# Password must have uppercase characters"), each turned into one plain sentence.
_PASSWORD_RULES: tuple[tuple[str, str], ...] = (
    ("long enough", "The password is too short."),
    ("uppercase", "The password needs an upper-case letter."),
    ("lowercase", "The password needs a lower-case letter."),
    ("numeric", "The password needs a number."),
    ("symbol", "The password needs a symbol, such as ! or %."),
    ("whitespace", "The password must not start or end with a space."),
)
_NOT_STRONG_ENOUGH = (
    "This password is not strong enough. Use a longer one that mixes upper- and "
    "lower-case letters, numbers and symbols."
)


class CognitoError(Exception):
    """The only exception a view sees from Cognito.

    ``message`` is for the person; ``code`` is Cognito's error code, so that a
    view can choose the next step (an unconfirmed user goes to the code page)
    and a form can put the message next to the field it is about.
    """

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str


def password_message(cognito_message: str) -> str:
    text = cognito_message.lower()
    reasons = [sentence for needle, sentence in _PASSWORD_RULES if needle in text]
    return " ".join(reasons) or _NOT_STRONG_ENOUGH


@contextmanager
def _translated(operation: str, messages: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn whatever botocore or pycognito raises into a CognitoError."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        aws_message = error.response.get("Error", {}).get("Message", "")
        if code == "InvalidPasswordException":
            raise CognitoError(password_message(aws_message), code) from error
        message = (messages or {}).get(code) or _MESSAGES.get(code)
        if message is None:
            log.error("Cognito %s failed with %s: %s", operation, code, aws_message)
            raise CognitoError(UNAVAILABLE, code) from error
        log.info("Cognito %s refused with %s: %s", operation, code, aws_message)
        raise CognitoError(message, code) from error
    except BotoCoreError as error:
        # No answer at all (timeouts after the bounded retries, no credentials,
        # a bad endpoint): nothing the person can fix.
        log.error("Cognito %s is unreachable: %s", operation, error)
        raise CognitoError(UNAVAILABLE, "Unavailable") from error


class _SharedClient:
    """Stands in for a boto3 session so that pycognito uses the project's client."""

    def client(self, service_name: str, **_ignored: Any) -> Any:
        return aws.client(service_name)


def _pool(email: str | None = None) -> Cognito:
    return Cognito(
        settings.COGNITO_USER_POOL_ID,
        settings.COGNITO_APP_CLIENT_ID,
        user_pool_region=settings.AWS_REGION,
        username=email,
        session=_SharedClient(),
    )


def sign_up(email: str, password: str) -> None:
    """Create an unconfirmed user; Cognito emails them a confirmation code."""
    with _translated("sign-up"):
        # The pool signs in by email, so the address is the username and
        # Cognito fills the `email` attribute from it.
        _pool().register(email, password)


def confirm_sign_up(email: str, code: str) -> None:
    with _translated(
        "confirm-sign-up",
        {"NotAuthorizedException": _ALREADY_CONFIRMED, "UserNotFoundException": _NO_ACCOUNT},
    ):
        _pool().confirm_sign_up(code, username=email)


def resend_code(email: str) -> None:
    with _translated(
        "resend-code",
        {"InvalidParameterException": _ALREADY_CONFIRMED, "UserNotFoundException": _NO_ACCOUNT},
    ):
        _pool().resend_confirmation_code(email)


def sign_in(email: str, password: str) -> Tokens:
    """SRP sign-in: the password itself never leaves this process."""
    with _translated("sign-in"):
        srp = AWSSRP(
            username=email,
            password=password,
            pool_id=settings.COGNITO_USER_POOL_ID,
            client_id=settings.COGNITO_APP_CLIENT_ID,
            client=aws.client("cognito-idp"),
        )
        try:
            result = srp.authenticate_user()["AuthenticationResult"]
        except (WarrantException, NotImplementedError, KeyError) as error:
            # A challenge this site does not answer (new password, MFA, custom).
            log.error("Cognito sign-in for an account stopped at a challenge: %s", error)
            raise CognitoError(
                "This account needs a sign-in step this site does not support yet. "
                "Please ask the site's operator for help.",
                "UnsupportedChallenge",
            ) from error
    return Tokens(id_token=result["IdToken"], access_token=result["AccessToken"])


def forgot_password(email: str) -> None:
    """Email a reset code. An unknown address looks like success, to reveal nothing."""
    try:
        with _translated(
            "forgot-password",
            {
                "InvalidParameterException": (
                    "This email address is not confirmed yet, so no reset code can be sent. "
                    "Confirm it first."
                ),
                "NotAuthorizedException": (
                    "The password of this account cannot be reset. "
                    "Please ask the site's operator for help."
                ),
            },
        ):
            _pool(email).initiate_forgot_password()
    except CognitoError as error:
        if error.code != "UserNotFoundException":
            raise


def confirm_forgot_password(email: str, code: str, new_password: str) -> None:
    # An unknown address gets the wrong-code answer: the page must not tell
    # whether an account exists.
    with _translated("confirm-forgot-password", {"UserNotFoundException": _WRONG_CODE}):
        _pool(email).confirm_forgot_password(code, new_password)


def sign_out(access_token: str) -> None:
    """Revoke the session's Cognito tokens everywhere (the refresh token included)."""
    with _translated("global-sign-out"):
        pool = _pool()
        pool.access_token = access_token
        pool.logout()
