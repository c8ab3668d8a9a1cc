"""Cognito accounts against moto's in-process user pool; nothing reaches the internet.

moto takes any confirmation code, so those refusals are made with botocore's
Stubber or a patched client method raising Cognito's real error shape. moto's
SRP sign-in takes any password too; the pool fixture has moto check the
password handed to SRP (checks_srp_passwords), as Cognito would.
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import jwt.jwks_client
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from moto import mock_aws
from moto.utilities.utils import load_resource
from pycognito.aws_srp import AWSSRP

from accounts.cognito import jwks
from accounts.cognito.backend import CognitoBackend
from findlabels import aws
from tools import aws_local
from tools.aws_local import create_user_pool

# Imported now, under the real settings: importing it inside a test that sets
# FINDLABELS_AUTH=cognito would build findlabels.urls (which it imports) for
# Cognito too, and later local-mode tests would get Cognito's pages.
from . import cognito_urls as _cognito_urls  # noqa: F401

pytestmark = pytest.mark.django_db

REGION = "us-east-1"
PASSWORD = "Correct-Horse-42"
EMAIL = "new@example.com"
UNAVAILABLE = b"Sign-in is not available right now."


@dataclass
class Pool:
    idp: Any
    pool_id: str
    client_id: str

    def sub(self, email: str) -> str:
        user = self.idp.admin_get_user(UserPoolId=self.pool_id, Username=email)
        return next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")

    def password_works(self, email: str, password: str) -> bool:
        # moto checks passwords in this flow (not in SRP), so tests use it to
        # see which password Cognito holds.
        try:
            self.idp.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": password},
            )
        except ClientError:
            return False
        return True


@pytest.fixture
def pool(settings: Any, aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pool]:
    settings.AWS_REGION = REGION
    settings.AWS_ENDPOINT_URL = None
    with mock_aws():
        aws.client.cache_clear()
        idp = aws.client("cognito-idp")
        pool_id, client_id = create_user_pool(idp, "findlabels-test")
        settings.FINDLABELS_AUTH = "cognito"
        settings.COGNITO_USER_POOL_ID = pool_id
        settings.COGNITO_APP_CLIENT_ID = client_id
        # moto signs with the key in its resources; under mock_aws its JWKS URL
        # answers only through botocore, so the keys come from settings.
        settings.COGNITO_JWKS = json.dumps(load_resource("cognitoidp/resources/jwks-public.json"))
        settings.AUTHENTICATION_BACKENDS = [
            "accounts.cognito.backend.CognitoBackend",
            "django.contrib.auth.backends.ModelBackend",
        ]
        settings.ROOT_URLCONF = "tests.accounts.cognito_urls"
        pool = Pool(idp, pool_id, client_id)
        checks_srp_passwords(pool, monkeypatch)
        yield pool
    aws.client.cache_clear()
    jwks.forget_fetched_keys()


def checks_srp_passwords(pool: Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto refuse an SRP sign-in with a password Cognito does not hold, as Cognito does.

    moto's SRP flow takes any password, so a sign-in that handed SRP another
    password than the one typed would pass every test. The password SRP is
    given is first tried in USER_PASSWORD_AUTH, where moto does compare it.
    """
    original = AWSSRP.authenticate_user

    def authenticate_user(srp: AWSSRP, *args: Any, **kwargs: Any) -> Any:
        try:
            pool.idp.initiate_auth(
                ClientId=pool.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": srp.username, "PASSWORD": srp.password},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "NotAuthorizedException":
                raise
            # Unknown or unconfirmed: moto's SRP flow answers that as Cognito does.
        return original(srp, *args, **kwargs)

    monkeypatch.setattr(AWSSRP, "authenticate_user", authenticate_user)


def sign_up(client: Client, email: str = EMAIL, password: str = PASSWORD) -> Any:
    return client.post(
        "/accounts/signup/", {"email": email, "password1": password, "password2": password}
    )


def confirm(client: Client, email: str = EMAIL, code: str = "123456") -> Any:
    return client.post("/accounts/confirm-email/", {"email": email, "code": code})


def sign_in(client: Client, email: str = EMAIL, password: str = PASSWORD) -> Any:
    return client.post("/accounts/login/", {"login": email, "password": password})


def signed_up_and_confirmed(client: Client, pool: Pool, email: str = EMAIL) -> None:
    assert sign_up(client, email).status_code == 302
    assert confirm(client, email).status_code == 302


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "RespondToAuthChallenge")


def moto_token(pool: Pool, **claims: Any) -> str:
    """A token signed with moto's private key, the one the test JWKS trusts."""
    now = int(time.time())
    payload = {
        "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{pool.pool_id}",
        "aud": pool.client_id,
        "sub": "11111111-2222-3333-4444-555555555555",
        "token_use": "id",
        "email": "token@example.com",
        "iat": now,
        "exp": now + 3600,
        **claims,
    }
    key = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "dummy"})


# --- sign up, confirm, sign in ------------------------------------------------


def test_sign_up_confirm_and_sign_in_reach_the_gallery(
    client: Client, pool: Pool, django_user_model: Any
) -> None:
    response = sign_up(client)
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert client.get("/").status_code == 302  # no session before the code
    page = client.get("/accounts/confirm-email/")
    assert b'value="new@example.com"' in page.content  # the address is asked for once

    response = confirm(client)
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    response = sign_in(client)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200

    user = django_user_model.objects.get(email=EMAIL)
    assert user.cognito_sub == pool.sub(EMAIL)
    assert not user.has_usable_password()


def test_sign_in_goes_on_to_the_page_asked_for(client: Client, pool: Pool) -> None:
    signed_up_and_confirmed(client, pool)
    response = client.post("/accounts/login/?next=/labels/", {"login": EMAIL, "password": PASSWORD})
    assert response["Location"] == "/labels/"


def test_sign_in_does_not_go_on_to_another_site(client: Client, pool: Pool) -> None:
    signed_up_and_confirmed(client, pool)
    response = client.post(
        "/accounts/login/?next=https://evil.example/", {"login": EMAIL, "password": PASSWORD}
    )
    assert response["Location"] == "/"


def test_a_wrong_password_says_so(
    client: Client, pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_up_and_confirmed(client, pool)
    response = sign_in(client, password="Wrong-Horse-42")
    assert response.status_code == 200
    assert b"Email or password is not correct." in response.content
    assert client.get("/").status_code == 302


def test_an_unknown_address_gets_the_same_answer_as_a_wrong_password(
    client: Client, pool: Pool
) -> None:
    response = sign_in(client, email="nobody@example.com")
    assert b"Email or password is not correct." in response.content


def test_an_unconfirmed_user_is_sent_to_the_code_page(client: Client, pool: Pool) -> None:
    sign_up(client)
    other = Client()
    response = sign_in(other)
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    page = other.get(response["Location"])
    assert b"confirm your email address first" in page.content
    assert b'value="new@example.com"' in page.content
    assert other.get("/").status_code == 302


def test_a_duplicate_email_is_refused_on_the_form(
    client: Client, pool: Pool, django_user_model: Any
) -> None:
    sign_up(client)
    response = sign_up(Client())
    assert response.status_code == 200
    assert b"An account with this email address already exists." in response.content


def test_a_weak_password_is_refused_in_plain_words(client: Client, pool: Pool) -> None:
    # moto enforces the pool's policy, with one message for every rule.
    response = sign_up(client, password="weakling")
    assert response.status_code == 200
    assert b"This password is not strong enough." in response.content


def test_cognitos_own_password_complaint_is_translated(client: Client, pool: Pool) -> None:
    with Stubber(pool.idp) as stub:
        stub.add_client_error(
            "sign_up",
            service_error_code="InvalidPasswordException",
            service_message="Password did not conform with policy: Password not long enough",
        )
        response = sign_up(client, password="Sh0rt")
    assert b"The password is too short." in response.content


def test_mismatched_passwords_never_reach_cognito(client: Client, pool: Pool) -> None:
    with Stubber(pool.idp):  # any call would fail: nothing is queued
        response = client.post(
            "/accounts/signup/",
            {"email": EMAIL, "password1": PASSWORD, "password2": PASSWORD + "x"},
        )
    assert b"You must type the same password each time." in response.content


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("CodeMismatchException", b"That code is not correct."),
        ("ExpiredCodeException", b"That code has expired. Ask for a new one."),
    ],
)
def test_a_wrong_or_expired_code_is_refused(
    client: Client, pool: Pool, code: str, words: bytes
) -> None:
    sign_up(client)
    with Stubber(pool.idp) as stub:
        stub.add_client_error("confirm_sign_up", service_error_code=code, service_message="x")
        response = confirm(client, code="000000")
    assert response.status_code == 200 and words in response.content
    assert sign_in(Client())["Location"] == "/accounts/confirm-email/"  # still unconfirmed


def test_a_new_code_can_be_asked_for(client: Client, pool: Pool) -> None:
    sign_up(client)
    # moto does not implement ResendConfirmationCode; the stub also checks the call.
    with Stubber(pool.idp) as stub:
        stub.add_response(
            "resend_confirmation_code",
            {"CodeDeliveryDetails": {"Destination": "n***@example.com"}},
            {"ClientId": pool.client_id, "Username": EMAIL},
        )
        response = client.post(
            "/accounts/confirm-email/resend/", {"email": EMAIL, "code": ""}, follow=True
        )
        stub.assert_no_pending_responses()
    assert b"We sent a new code to new@example.com." in response.content


def test_confirming_twice_says_the_address_is_confirmed(client: Client, pool: Pool) -> None:
    signed_up_and_confirmed(client, pool)
    with Stubber(pool.idp) as stub:
        stub.add_client_error(
            "confirm_sign_up",
            service_error_code="NotAuthorizedException",
            service_message="User cannot be confirmed. Current status is CONFIRMED",
        )
        response = confirm(client)
    assert b"already confirmed" in response.content


# --- password reset -------------------------------------------------------------


def test_forgot_password_then_a_code_sets_the_new_password(client: Client, pool: Pool) -> None:
    signed_up_and_confirmed(client, pool)
    response = client.post("/accounts/password/reset/", {"email": EMAIL})
    assert response["Location"] == "/accounts/password/reset/code/"
    page = client.get(response["Location"])
    assert b'value="new@example.com"' in page.content

    response = client.post(
        "/accounts/password/reset/code/",
        {
            "email": EMAIL,
            "code": "123 456",
            "password1": "New-Secret-4242",
            "password2": "New-Secret-4242",
        },
    )
    assert response["Location"] == "/accounts/login/"
    assert pool.password_works(EMAIL, "New-Secret-4242")
    assert not pool.password_works(EMAIL, PASSWORD)


def test_forgot_password_does_not_tell_whether_an_account_exists(
    client: Client, pool: Pool
) -> None:
    with Stubber(pool.idp) as stub:
        stub.add_client_error(
            "forgot_password", service_error_code="UserNotFoundException", service_message="x"
        )
        response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response["Location"] == "/accounts/password/reset/code/"


def test_a_wrong_reset_code_is_refused(client: Client, pool: Pool) -> None:
    signed_up_and_confirmed(client, pool)
    with Stubber(pool.idp) as stub:
        stub.add_client_error(
            "confirm_forgot_password",
            service_error_code="CodeMismatchException",
            service_message="Invalid verification code provided, please try again.",
        )
        response = client.post(
            "/accounts/password/reset/code/",
            {
                "email": EMAIL,
                "code": "000000",
                "password1": "New-Secret-4242",
                "password2": "New-Secret-4242",
            },
        )
    assert response.status_code == 200 and b"That code is not correct." in response.content
    assert pool.password_works(EMAIL, PASSWORD)


# --- sign out -----------------------------------------------------------------------


def test_sign_out_ends_the_session_and_the_cognito_tokens(client: Client, pool: Pool) -> None:
    signed_up_and_confirmed(client, pool)
    sign_in(client)
    access_token = client.session["cognito_access_token"]
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302
    with pytest.raises(ClientError) as refused:
        pool.idp.get_user(AccessToken=access_token)
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_sign_out_works_when_cognito_does_not_answer(
    client: Client, pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_up_and_confirmed(client, pool)
    sign_in(client)

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://cognito-idp.us-east-1.amazonaws.com")

    monkeypatch.setattr(pool.idp, "global_sign_out", unreachable)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_the_sign_out_page_asks_first(client: Client, pool: Pool) -> None:
    signed_up_and_confirmed(client, pool)
    sign_in(client)
    assert b"Are you sure you want to sign out?" in client.get("/accounts/logout/").content
    assert client.get("/").status_code == 200


# --- the Django user and the token ------------------------------------------------


def test_the_user_is_linked_by_sub_and_follows_an_email_change(
    client: Client, pool: Pool, django_user_model: Any
) -> None:
    signed_up_and_confirmed(client, pool)
    sign_in(client)
    first = django_user_model.objects.get(email=EMAIL)
    client.post("/accounts/logout/")

    pool.idp.admin_update_user_attributes(
        UserPoolId=pool.pool_id,
        Username=EMAIL,
        UserAttributes=[
            {"Name": "email", "Value": "moved@example.com"},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    assert sign_in(client, email="moved@example.com")["Location"] == "/"
    assert django_user_model.objects.count() == 1
    first.refresh_from_db()
    assert first.email == "moved@example.com"
    assert client.session["_auth_user_id"] == str(first.pk)


def test_an_unverified_new_email_is_not_copied(pool: Pool, make_user: Any) -> None:
    user = make_user("kept@example.com", cognito_sub="sub-1")
    token = moto_token(pool, sub="sub-1", email="unproven@example.com", email_verified=False)
    assert CognitoBackend().authenticate(None, cognito_id_token=token) == user
    user.refresh_from_db()
    assert user.email == "kept@example.com"


def test_a_local_account_is_linked_when_cognito_vouches_for_the_address(
    pool: Pool, make_user: Any
) -> None:
    local = make_user("local@example.com")
    token = moto_token(pool, sub="sub-2", email="local@example.com", email_verified=True)
    assert CognitoBackend().authenticate(None, cognito_id_token=token) == local
    local.refresh_from_db()
    assert local.cognito_sub == "sub-2"


def test_a_local_account_is_not_taken_over_by_an_unverified_address(
    pool: Pool, make_user: Any
) -> None:
    local = make_user("local@example.com")
    token = moto_token(pool, sub="sub-3", email="local@example.com")
    assert CognitoBackend().authenticate(None, cognito_id_token=token) is None
    local.refresh_from_db()
    assert local.cognito_sub is None


def test_a_deactivated_user_cannot_sign_in(pool: Pool, make_user: Any) -> None:
    make_user("gone@example.com", cognito_sub="sub-4", is_active=False)
    token = moto_token(pool, sub="sub-4", email="gone@example.com")
    assert CognitoBackend().authenticate(None, cognito_id_token=token) is None


def test_a_good_token_signs_in_and_makes_the_user(pool: Pool, django_user_model: Any) -> None:
    user = CognitoBackend().authenticate(None, cognito_id_token=moto_token(pool))
    assert user is not None and user.email == "token@example.com"
    assert django_user_model.objects.get(cognito_sub="11111111-2222-3333-4444-555555555555")


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-app-client"},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool"},
        {"iss": "http://127.0.0.1:5000/us-east-1_OtherPool"},
        {"token_use": "access"},
        {"exp": int(time.time()) - 3600},
        {"email": "not-an-address"},
    ],
    ids=["audience", "issuer", "host-issuer", "access-token", "expired", "no-email"],
)
def test_a_token_that_does_not_fit_is_refused(
    pool: Pool, django_user_model: Any, claims: dict[str, Any]
) -> None:
    assert CognitoBackend().authenticate(None, cognito_id_token=moto_token(pool, **claims)) is None
    assert not django_user_model.objects.exists()


def test_a_token_signed_with_another_key_is_refused(pool: Pool) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        jwt.decode(moto_token(pool), options={"verify_signature": False}),
        stranger,
        algorithm="RS256",
        headers={"kid": "dummy"},
    )
    assert CognitoBackend().authenticate(None, cognito_id_token=token) is None


def test_the_backend_ignores_what_is_not_a_token(pool: Pool) -> None:
    assert CognitoBackend().authenticate(None, cognito_id_token="not.a.token") is None
    assert CognitoBackend().authenticate(None) is None


class JwksEndpoint:
    """Stands in for urllib's opener inside PyJWKClient: records each fetch."""

    def __init__(self, document: bytes | None) -> None:
        self.document = document
        self.fetched: list[tuple[str, float]] = []

    def build_opener(self, *handlers: Any) -> JwksEndpoint:
        return self

    def open(self, request: urllib.request.Request, timeout: float) -> io.BytesIO:
        self.fetched.append((request.full_url, timeout))
        if self.document is None:
            raise urllib.error.URLError("network is unreachable")
        return io.BytesIO(self.document)


def jwks_endpoint(monkeypatch: pytest.MonkeyPatch, document: bytes | None) -> JwksEndpoint:
    endpoint = JwksEndpoint(document)
    monkeypatch.setattr(jwt.jwks_client.urllib.request, "build_opener", endpoint.build_opener)
    return endpoint


def test_the_keys_are_fetched_once_from_the_endpoint(
    pool: Pool, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.COGNITO_JWKS = ""
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:5999"
    jwks.forget_fetched_keys()
    document = json.dumps(load_resource("cognitoidp/resources/jwks-public.json")).encode()
    endpoint = jwks_endpoint(monkeypatch, document)
    for _ in range(3):
        assert jwks.verify_id_token(moto_token(pool))["sub"]
    assert endpoint.fetched == [
        (f"http://127.0.0.1:5999/{pool.pool_id}/.well-known/jwks.json", jwks.FETCH_TIMEOUT_SECONDS)
    ]


def test_an_unknown_key_fetches_again_but_not_at_every_token(
    pool: Pool, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.COGNITO_JWKS = ""
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:5999"
    jwks.forget_fetched_keys()
    document = json.dumps(load_resource("cognitoidp/resources/jwks-public.json")).encode()
    endpoint = jwks_endpoint(monkeypatch, document)
    assert jwks.verify_id_token(moto_token(pool))["sub"]
    stranger = jwt.encode(
        jwt.decode(moto_token(pool), options={"verify_signature": False}),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "rotated"},
    )
    for _ in range(3):
        with pytest.raises(jwks.TokenError, match="rotated"):
            jwks.verify_id_token(stranger)
    assert len(endpoint.fetched) == 1  # within REFETCH_AFTER_SECONDS of the first fetch


def test_keys_that_cannot_be_fetched_refuse_sign_in_without_crashing(
    client: Client, pool: Pool, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_up_and_confirmed(client, pool)
    settings.COGNITO_JWKS = ""
    jwks.forget_fetched_keys()
    endpoint = jwks_endpoint(monkeypatch, None)
    response = sign_in(client)
    assert endpoint.fetched  # the keys were asked for, and could not be had
    assert response.status_code == 200 and UNAVAILABLE in response.content
    assert client.get("/").status_code == 302


def test_sign_in_against_a_moto_server_fetches_the_keys_over_http(
    client: Client, settings: Any, aws_credentials: None, django_user_model: Any
) -> None:
    """Real HTTP on 127.0.0.1: the endpoint setting, SRP and the JWKS download together."""
    local = aws_local.start()
    try:
        settings.AWS_REGION = local.env["AWS_REGION"]
        settings.AWS_ENDPOINT_URL = local.endpoint
        settings.COGNITO_USER_POOL_ID = local.env["COGNITO_USER_POOL_ID"]
        settings.COGNITO_APP_CLIENT_ID = local.env["COGNITO_APP_CLIENT_ID"]
        settings.COGNITO_JWKS = ""
        settings.AUTHENTICATION_BACKENDS = ["accounts.cognito.backend.CognitoBackend"]
        settings.ROOT_URLCONF = "tests.accounts.cognito_urls"
        aws.client.cache_clear()
        jwks.forget_fetched_keys()

        assert sign_up(client).status_code == 302
        assert confirm(client).status_code == 302
        assert sign_in(client)["Location"] == "/"
        assert django_user_model.objects.get(email=EMAIL).cognito_sub
    finally:
        local.stop()
        aws.client.cache_clear()
        jwks.forget_fetched_keys()


# --- outages, admin, anonymous ----------------------------------------------------


def test_an_unreachable_cognito_is_a_message_not_a_500(
    client: Client, pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://cognito-idp.us-east-1.amazonaws.com")

    for operation in ("initiate_auth", "sign_up", "forgot_password"):
        monkeypatch.setattr(pool.idp, operation, unreachable)
    assert UNAVAILABLE in sign_in(client).content
    assert UNAVAILABLE in sign_up(client).content
    assert UNAVAILABLE in client.post("/accounts/password/reset/", {"email": EMAIL}).content


def test_an_error_cognito_does_not_explain_is_a_message_not_a_500(
    client: Client, pool: Pool
) -> None:
    with Stubber(pool.idp) as stub:
        stub.add_client_error(
            "sign_up", service_error_code="InternalErrorException", http_status_code=500
        )
        response = sign_up(client)
    assert response.status_code == 200 and UNAVAILABLE in response.content


def test_a_challenge_the_site_does_not_answer_is_explained(
    client: Client, pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_up_and_confirmed(client, pool)

    def mfa(**_: Any) -> dict[str, Any]:
        return {"ChallengeName": "MFA_SETUP", "ChallengeParameters": {}, "Session": "s"}

    monkeypatch.setattr(pool.idp, "respond_to_auth_challenge", mfa)
    response = sign_in(client)
    assert response.status_code == 200 and b"does not support yet" in response.content


def test_staff_reach_the_admin_through_the_cognito_sign_in(
    client: Client, pool: Pool, django_user_model: Any
) -> None:
    signed_up_and_confirmed(client, pool)
    sign_in(Client())  # makes the local user that staff status is given to
    django_user_model.objects.filter(email=EMAIL).update(is_staff=True, is_superuser=True)
    sign_in_page = client.get("/admin/login/?next=/admin/")["Location"]
    assert sign_in_page.startswith("/accounts/login/?next=")
    response = client.post(sign_in_page, {"login": EMAIL, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_admin_refuses_a_cognito_only_user(client: Client, pool: Pool, make_user: Any) -> None:
    signed_up_and_confirmed(client, pool)
    sign_in(client)
    assert client.get("/admin/login/?next=/admin/").status_code == 403
    # Its old form takes no password any more, so a local password cannot get around Cognito.
    anonymous = Client()
    anonymous.post("/admin/login/", {"username": EMAIL, "password": PASSWORD})
    assert "_auth_user_id" not in anonymous.session


def test_anonymous_pages_send_people_to_the_cognito_sign_in(client: Client, pool: Pool) -> None:
    response = client.get("/labels/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/labels/"
    page = client.get(response["Location"])
    assert "accounts/cognito/login.html" in [t.name for t in page.templates]


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/confirm-email/",
        "/accounts/password/reset/",
        "/accounts/password/reset/code/",
    ],
)
def test_account_pages_use_the_apps_layout(client: Client, pool: Pool, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert (
        b"/static/css/app.css" in response.content and b'<main class="account">' in response.content
    )


def test_signed_in_people_skip_the_sign_in_and_sign_up_pages(client: Client, pool: Pool) -> None:
    signed_up_and_confirmed(client, pool)
    sign_in(client)
    assert client.get("/accounts/login/")["Location"] == "/"
    assert client.get("/accounts/signup/")["Location"] == "/"
