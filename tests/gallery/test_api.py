from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from openapi_spec_validator import validate

from accounts.models import ApiToken, token_digest
from gallery.api import api
from gallery.detection import BoundingBox, Detection, Instance, Label
from gallery.models import Image
from tests.conftest import make_jpeg

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
DOG = Label("Dog", 91.0, ("Pet", "Animal"), (Instance(BoundingBox(0.1, 0.2, 0.3, 0.4), 91.0),))
BEACH = Label("Beach", 30.0, ("Nature",))


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def token(owner: Any) -> str:
    return ApiToken.objects.issue(owner, "tests")[1]


@pytest.fixture
def other_token(other_user: Any) -> str:
    return ApiToken.objects.issue(other_user, "theirs")[1]


@pytest.fixture
def photo(make_image: Any) -> Image:
    image = make_image(name="dog-on-beach.jpg")
    image.replace_labels(Detection("local", "test-1", (DOG, BEACH)))
    return image


def openapi() -> dict[str, Any]:
    return api.get_openapi_schema(path_prefix="/api/v1")


def operations() -> list[tuple[str, str]]:
    return [
        (method.upper(), path) for path, methods in openapi()["paths"].items() for method in methods
    ]


def call(
    client: Client, method: str, path: str, photo: Image, headers: dict[str, str] | None = None
) -> Any:
    path = path.replace("{image_id}", str(photo.pk)).replace("{name}", "Dog")
    if method == "POST" and path.endswith("/images/"):
        return client.post(path, {"file": io.BytesIO(b"not an image")}, headers=headers)
    if method == "POST" and path.endswith("/labels/"):
        body = '{"name": "Holiday"}'
        return client.post(path, body, content_type="application/json", headers=headers)
    return client.generic(method, path, headers=headers)


# -- the document -----------------------------------------------------------


def test_the_openapi_document_is_valid_and_lists_every_endpoint(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert set(operations()) == {
        ("GET", "/api/v1/images/"),
        ("POST", "/api/v1/images/"),
        ("GET", "/api/v1/images/{image_id}/"),
        ("DELETE", "/api/v1/images/{image_id}/"),
        ("POST", "/api/v1/images/{image_id}/detect"),
        ("POST", "/api/v1/images/{image_id}/labels/"),
        ("DELETE", "/api/v1/images/{image_id}/labels/{name}"),
        ("GET", "/api/v1/labels/"),
    }


def test_the_docs_page_loads_its_assets_from_this_site(client: Client) -> None:
    page = client.get("/api/v1/docs").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources
    assert all(src.startswith("/") and not src.startswith("//") for src in sources), sources


# -- who may do what -----------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), operations())
def test_every_endpoint_refuses_no_token_and_a_revoked_one(
    client: Client, photo: Image, token: str, method: str, path: str
) -> None:
    response = call(client, method, path, photo)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    ApiToken.objects.update(revoked_at=timezone.now())
    response = call(client, method, path, photo, headers=bearer(token))
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), operations())
def test_another_persons_photo_is_a_404(
    client: Client, photo: Image, other_token: str, method: str, path: str
) -> None:
    response = call(client, method, path, photo, headers=bearer(other_token))
    if "{image_id}" in path:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    else:
        assert response.status_code in (200, 400)
        assert str(photo.pk) not in response.content.decode()
    assert Image.objects.filter(pk=photo.pk).exists()
    assert photo.labels.filter(name="Dog", shown=True).exists()


@pytest.mark.parametrize(("method", "path"), operations())
def test_the_owner_reaches_every_endpoint(
    client: Client, photo: Image, token: str, detector: Any, method: str, path: str
) -> None:
    response = call(client, method, path, photo, headers=bearer(token))
    expected = 400 if (method, path) == ("POST", "/api/v1/images/") else None
    assert response.status_code == expected or 200 <= response.status_code < 300
    assert response["Content-Type"].startswith("application/json") or response.status_code == 204


def test_the_sites_own_pages_use_the_session_with_csrf(owner: Any, photo: Image) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get("/api/v1/images/").status_code == 200
    response = client.post(f"/api/v1/images/{photo.pk}/detect")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_a_token_check_costs_one_query(
    client: Client, token: str, django_assert_num_queries: Any, photo: Image
) -> None:
    client.get("/api/v1/labels/", headers=bearer(token))  # writes last_used_at once
    with django_assert_num_queries(2):  # the token with its user, then the counts
        assert client.get("/api/v1/labels/", headers=bearer(token)).status_code == 200


# -- answers ---------------------------------------------------------------------


def test_search_pages_and_filters_labels_by_the_minimum(
    client: Client, token: str, photo: Image, make_image: Any
) -> None:
    make_image(name="other.jpg")
    body = client.get("/api/v1/images/", {"q": "dogs"}, headers=bearer(token)).json()
    assert body["count"] == 1
    assert body["next"] is None and body["previous"] is None
    labels = body["results"][0]["labels"]["Labels"]
    assert [label["Name"] for label in labels] == ["Dog"], "Beach 30% is under the slider"
    low = client.get("/api/v1/images/", {"min_confidence": 10}, headers=bearer(token)).json()
    found = next(r for r in low["results"] if r["id"] == str(photo.pk))
    assert {label["Name"] for label in found["labels"]["Labels"]} == {"Dog", "Beach"}


def test_labels_come_in_rekognitions_detectlabels_shape(
    client: Client, token: str, photo: Image
) -> None:
    body = client.get(f"/api/v1/images/{photo.pk}/", headers=bearer(token)).json()
    model = botocore.session.get_session().get_service_model("rekognition")
    shape = model.operation_model("DetectLabels").output_shape
    report = ParamValidator().validate(body["labels"], shape)
    assert not report.has_errors(), report.generate_report()
    dog = body["labels"]["Labels"][0]
    assert dog["Parents"] == [{"Name": "Pet"}, {"Name": "Animal"}]
    assert dog["Instances"][0]["BoundingBox"] == {
        "Width": 0.3,
        "Height": 0.4,
        "Left": 0.1,
        "Top": 0.2,
    }
    assert body["labels"]["LabelModelVersion"] == "test-1"


def test_the_download_urls_work_without_a_session(client: Client, token: str, photo: Image) -> None:
    urls = client.get(f"/api/v1/images/{photo.pk}/", headers=bearer(token)).json()["urls"]
    anonymous = Client()
    for url in urls.values():
        response = anonymous.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
    assert anonymous.get(urls["original"][:-3] + "xx/").status_code == 404


def test_a_download_url_expires(
    client: Client, token: str, photo: Image, settings: Any, monkeypatch: Any
) -> None:
    url = client.get(f"/api/v1/images/{photo.pk}/", headers=bearer(token)).json()["urls"][
        "original"
    ]
    settings.FINDLABELS_PRESIGN_SECONDS = 0
    monkeypatch.setattr("time.time", lambda: 10**10)
    assert Client().get(url).status_code == 404


def test_upload_stores_good_files_and_names_the_bad_ones(
    client: Client, token: str, owner: Any, photo: Image
) -> None:
    good = io.BytesIO(make_jpeg())
    good.name = "new.jpg"
    bad = io.BytesIO(b"hello")
    bad.name = "notes.jpg"
    again = io.BytesIO(photo.original.open("rb").read())
    again.name = "again.jpg"
    response = client.post("/api/v1/images/", {"file": [good, bad, again]}, headers=bearer(token))
    assert response.status_code == 201
    results = {r["file"]: r for r in response.json()["results"]}
    assert results["new.jpg"]["image"]["file_name"] == "new.jpg"
    assert results["notes.jpg"]["error"]["code"] == "unsupported_image"
    assert results["again.jpg"]["error"]["code"] == "duplicate"
    assert results["again.jpg"]["error"]["image_id"] == str(photo.pk)
    assert Image.objects.filter(owner=owner).count() == 2


def test_upload_of_only_bad_files_is_a_400(client: Client, token: str) -> None:
    empty = io.BytesIO(b"")
    empty.name = "empty.jpg"
    response = client.post("/api/v1/images/", {"file": [empty]}, headers=bearer(token))
    assert response.status_code == 400
    assert response.json()["results"][0]["error"]["message"].startswith("Not stored:")


def test_detect_is_rate_limited_like_the_page(
    client: Client, token: str, photo: Image, detector: Any, settings: Any
) -> None:
    settings.FINDLABELS_DETECT_RATE_PER_MINUTE = 1
    assert (
        client.post(f"/api/v1/images/{photo.pk}/detect", headers=bearer(token)).status_code == 200
    )
    response = client.post(f"/api/v1/images/{photo.pk}/detect", headers=bearer(token))
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"


def test_corrections_through_the_api(client: Client, token: str, photo: Image, owner: Any) -> None:
    response = client.delete(f"/api/v1/images/{photo.pk}/labels/Dog", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["labels"]["Labels"] == []
    added = client.post(
        f"/api/v1/images/{photo.pk}/labels/",
        '{"name": "grandma"}',
        content_type="application/json",
        headers=bearer(token),
    )
    assert added.status_code == 201
    assert added.json()["labels"]["Labels"][0]["Name"] == "Grandma"
    counts = client.get("/api/v1/labels/", headers=bearer(token)).json()
    assert {"name": "Grandma", "count": 1} in counts["labels"]
    assert "Dog" not in {row["name"] for row in counts["labels"]}


def test_delete_removes_the_photo(client: Client, token: str, photo: Image) -> None:
    assert client.delete(f"/api/v1/images/{photo.pk}/", headers=bearer(token)).status_code == 204
    assert not Image.objects.filter(pk=photo.pk).exists()


@pytest.mark.parametrize(
    ("path", "code"),
    [("/api/v1/nothing-here", "not_found"), ("/api/v1/images/?page=abc", "invalid")],
)
def test_errors_are_json_never_html(client: Client, token: str, path: str, code: str) -> None:
    response = client.get(path, headers=bearer(token))
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code
    assert response.status_code in (400, 404)


# -- tokens ------------------------------------------------------------------------


def test_tokens_are_stored_as_digests_only(owner: Any) -> None:
    token, secret = ApiToken.objects.issue(owner, "script")
    assert len(secret) >= 43  # 32 random bytes, URL-safe
    stored = ApiToken.objects.values_list("digest", "name", "hint").get(pk=token.pk)
    assert secret not in " ".join(stored)
    assert stored[0] == token_digest(secret)


def test_the_token_page_shows_a_new_token_once_and_revokes(
    owner_client: Client, owner: Any
) -> None:
    page = owner_client.post("/settings/tokens/", {"name": "backup"}).content.decode()
    secret = re.search(r'value="(ftl_[^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert secret not in owner_client.get("/settings/tokens/").content.decode()
    token = ApiToken.objects.get(user=owner)
    owner_client.post(f"/settings/tokens/{token.pk}/revoke/")
    assert Client().get("/api/v1/labels/", headers=bearer(secret)).status_code == 401


def test_another_person_cannot_revoke_my_token(other_client: Client, owner: Any) -> None:
    token, _ = ApiToken.objects.issue(owner, "mine")
    assert other_client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_anonymous_token_page_goes_to_sign_in(client: Client) -> None:
    response = client.get("/settings/tokens/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_command_prints_a_working_token(owner: Any, client: Client) -> None:
    out = io.StringIO()
    call_command("create_api_token", owner.email, "--name", "cron", stdout=out)
    secret = out.getvalue().strip()
    assert client.get("/api/v1/labels/", headers=bearer(secret)).status_code == 200
    assert ApiToken.objects.get(user=owner).name == "cron"


# -- the README's example -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_readme_curl_example_runs_against_a_live_server(
    live_server: Any, owner: Any, tmp_path: Path
) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is a Debian package `make test` installs"
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(curl [^`]+)```", readme.split("## API", 1)[1])
    assert block, "the README's API section has a curl example"
    secret = ApiToken.objects.issue(owner, "readme")[1]
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(make_jpeg())
    script = block.group(1).replace("http://127.0.0.1:8000", live_server.url)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"PATH": "/usr/bin:/bin", "TOKEN": secret},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '"count"' in result.stdout
    assert Image.objects.filter(owner=owner, original_name="photo.jpg").exists()
