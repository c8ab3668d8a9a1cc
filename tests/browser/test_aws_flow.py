"""The product flow in AWS mode, in Debian's chromium, against a local moto server.

Cognito accounts, S3 media through presigned URLs the browser fetches itself,
and Rekognition labels: all real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from findlabels import aws
from findlabels.policy import content_security_policy
from gallery.detection import get_detector
from tests.browser.conftest import Requests
from tools import aws_local

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"
PASSWORD = "Correct-Horse-42"


@pytest.fixture
def aws_mode(settings: Any, monkeypatch: Any) -> Iterator[aws_local.LocalAws]:
    local = aws_local.start()
    for name, value in aws_local.FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    env = local.env
    settings.FINDLABELS_STORAGE = "s3"
    settings.FINDLABELS_DETECTOR = "rekognition"
    settings.FINDLABELS_AUTH = "cognito"
    settings.FINDLABELS_DETECT_ON_UPLOAD = False
    settings.FINDLABELS_MODERATION = False  # moto has no DetectModerationLabels
    settings.AWS_REGION = env["AWS_REGION"]
    settings.AWS_ENDPOINT_URL = local.endpoint
    settings.AWS_STORAGE_BUCKET_NAME = env["AWS_STORAGE_BUCKET_NAME"]
    settings.COGNITO_USER_POOL_ID = env["COGNITO_USER_POOL_ID"]
    settings.COGNITO_APP_CLIENT_ID = env["COGNITO_APP_CLIENT_ID"]
    settings.COGNITO_JWKS = ""  # fetched from the moto server, as from Cognito
    settings.AUTHENTICATION_BACKENDS = [
        "accounts.cognito.backend.CognitoBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    settings.ROOT_URLCONF = "tests.accounts.cognito_urls"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": aws.s3_storage(
            env["AWS_STORAGE_BUCKET_NAME"],
            env["AWS_REGION"],
            local.endpoint,
            300,
            aws.botocore_config(5, 30, 3),
        ),
    }
    settings.CONTENT_SECURITY_POLICY = content_security_policy(
        aws.bucket_origins(env["AWS_STORAGE_BUCKET_NAME"], env["AWS_REGION"], local.endpoint)
    )
    aws.client.cache_clear()
    get_detector.cache_clear()
    yield local
    local.stop()
    aws.client.cache_clear()
    get_detector.cache_clear()


def test_cognito_sign_up_s3_gallery_and_rekognition_labels(
    aws_mode: aws_local.LocalAws, live_server: Any, page: Any, shot: Any
) -> None:
    base = live_server.url
    page.goto(f"{base}/accounts/signup/")
    page.fill("input[name=email]", "grace@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    shot("cognito-signup")
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    page.fill("input[name=code]", "123456")  # moto takes any code; it mails none
    page.click("form button:text('Confirm')")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=password]", PASSWORD)
    if not page.input_value("input[name=login]"):
        page.fill("input[name=login]", "grace@example.com")
    shot("cognito-signin")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/upload/")
    page.set_input_files(
        "#id_images", [str(PHOTOS / "grace_hopper.jpg"), str(PHOTOS / "coffee.jpg")]
    )
    page.click("#upload-button")
    page.wait_for_url(f"{base}/")
    thumbs = page.locator(".grid .tile img")
    assert thumbs.count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('.grid .tile img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    for src in thumbs.evaluate_all("imgs => imgs.map(img => img.src)"):
        assert src.startswith(aws_mode.endpoint) and "X-Amz-Signature=" in src
    shot("s3-gallery")

    page.locator(".grid .tile > a").first.click()
    page.wait_for_url(re.compile(r"/images/"))
    page.wait_for_function("() => document.querySelector('#stage img').naturalWidth > 0")
    page.click("#detect-button")
    page.wait_for_selector(".message.success")
    names = page.locator("#labels li[data-confidence] .label-row a").all_inner_texts()
    assert names, "Rekognition's labels are listed"
    shot("rekognition-labels")
    # The page itself may still be fetching its image and logo; only then listen.
    page.wait_for_load_state("networkidle")

    requests = Requests(page)
    page.locator("#confidence").fill("100")
    # Only labels shown as 100% (a confidence of 99.5 or more) stay at 100.
    shown = page.locator("#labels li[data-confidence]:visible")
    assert set(shown.evaluate_all("els => els.map(e => e.dataset.confidence)")) <= {"100"}
    page.locator("#confidence").fill("0")
    assert page.locator("#labels li[data-confidence]:visible").count() == len(names)
    assert requests.after_quiet() == [], "the slider never calls the server or Rekognition"
