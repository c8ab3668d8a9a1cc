from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage
from django.test import Client
from PIL import Image as PILImage

from gallery.models import Image
from tests.conftest import make_jpeg, make_png, upload_file

pytestmark = pytest.mark.django_db


def make_gif() -> bytes:
    out = io.BytesIO()
    PILImage.new("P", (8, 8)).save(out, "GIF")
    return out.getvalue()


def post(client: Client, *files: Any, **headers: Any) -> Any:
    return client.post("/upload/", {"images": list(files)}, follow=not headers, **headers)


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_upload_page_shows_the_form(owner_client: Client) -> None:
    response = owner_client.get("/upload/")
    assert b'name="images"' in response.content and b"multiple" in response.content


def test_it_stores_several_photos_in_one_post(owner: Any, owner_client: Client) -> None:
    response = post(
        owner_client,
        upload_file("a.jpg", make_jpeg(color=(1, 2, 3))),
        upload_file("b.png", make_png(), "image/png"),
    )
    assert b"Stored 2 photos." in response.content
    assert set(Image.objects.values_list("original_name", flat=True)) == {"a.jpg", "b.png"}
    assert set(Image.objects.values_list("content_type", flat=True)) == {"image/jpeg", "image/png"}


def test_it_keeps_the_original_byte_exact(owner: Any, owner_client: Client) -> None:
    data = make_jpeg(exif_orientation=6)
    post(owner_client, upload_file("turned.jpg", data))
    image = Image.objects.get()
    with image.original.open("rb") as stored:
        assert stored.read() == data


def test_it_applies_exif_orientation_to_size_and_thumbnail(owner_client: Client) -> None:
    post(owner_client, upload_file("turned.jpg", make_jpeg(size=(640, 480), exif_orientation=6)))
    image = Image.objects.get()
    assert (image.width, image.height) == (480, 640)
    with image.thumbnail.open("rb") as thumb, PILImage.open(thumb) as img:
        assert img.size == (300, 400)


def test_thumbnail_is_a_small_jpeg(owner_client: Client) -> None:
    post(owner_client, upload_file("big.jpg", make_jpeg(size=(4000, 3000))))
    image = Image.objects.get()
    with image.thumbnail.open("rb") as thumb, PILImage.open(thumb) as img:
        assert img.format == "JPEG" and max(img.size) == 400


def test_webp_is_accepted(owner_client: Client) -> None:
    out = io.BytesIO()
    PILImage.new("RGB", (50, 40), "green").save(out, "WEBP")
    response = post(owner_client, upload_file("leaf.webp", out.getvalue(), "image/webp"))
    assert b"Stored 1 photo." in response.content


def test_it_records_sha256_and_refuses_a_duplicate(owner_client: Client) -> None:
    data = make_jpeg()
    post(owner_client, upload_file("one.jpg", data))
    response = post(owner_client, upload_file("again.jpg", data))
    assert b"again.jpg was not stored: it is already in your library." in response.content
    assert Image.objects.count() == 1
    assert len(Image.objects.get().sha256) == 64


def test_the_same_photo_may_belong_to_two_accounts(
    owner_client: Client, other_client: Client
) -> None:
    data = make_jpeg()
    post(owner_client, upload_file("one.jpg", data))
    post(other_client, upload_file("one.jpg", data))
    assert Image.objects.count() == 2


REJECTIONS = [
    ("empty.jpg", b"", "the file is empty"),
    ("notes.jpg", b"this is plain text, not a photo", "it is not an image we can read"),
    ("cut.jpg", make_jpeg(size=(800, 600))[:5000], "the image data is damaged"),
    ("anim.gif", make_gif(), "GIF files are not supported"),
]


@pytest.mark.parametrize(("name", "data", "reason"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_it_rejects_a_bad_file_naming_it_and_why(
    name: str, data: bytes, reason: str, owner_client: Client, media_root: Path
) -> None:
    response = post(owner_client, upload_file(name, data))
    assert f"{name} was not stored: {reason}".encode() in response.content
    assert Image.objects.count() == 0
    assert stored_files(media_root) == []


def test_it_rejects_a_file_over_the_byte_limit(owner_client: Client, settings: Any) -> None:
    settings.FINDLABELS_MAX_UPLOAD_BYTES = 10_000
    response = post(owner_client, upload_file("huge.jpg", make_jpeg(size=(1500, 1500))))
    assert b"huge.jpg was not stored: it is" in response.content
    assert b"the limit is 0.0 MB" in response.content
    assert Image.objects.count() == 0


def test_it_rejects_an_image_over_the_pixel_limit(owner_client: Client, settings: Any) -> None:
    settings.FINDLABELS_MAX_PIXELS = 1000 * 1000
    response = post(owner_client, upload_file("wide.jpg", make_jpeg(size=(2000, 1000))))
    assert b"wide.jpg was not stored: it is 2000x1000 pixels" in response.content


def test_it_rejects_a_png_whose_header_claims_30000_by_30000(owner_client: Client) -> None:
    data = bytearray(make_png((10, 10), "RGB"))
    data[16:24] = (30000).to_bytes(4, "big") * 2  # IHDR width and height
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # a valid header CRC
    response = post(owner_client, upload_file("bomb.png", bytes(data), "image/png"))
    assert b"bomb.png was not stored:" in response.content
    assert b"megapixels" in response.content
    assert Image.objects.count() == 0


def test_good_files_are_stored_when_others_in_the_same_post_fail(owner_client: Client) -> None:
    response = post(
        owner_client,
        upload_file("good.jpg", make_jpeg()),
        upload_file("broken.jpg", b"nope"),
        upload_file("good.png", make_png(), "image/png"),
    )
    assert b"Stored 2 photos." in response.content
    assert b"broken.jpg was not stored" in response.content
    assert Image.objects.count() == 2


def test_a_post_without_files_says_so(owner_client: Client) -> None:
    response = owner_client.post("/upload/", {})
    assert b"Choose at least one photo" in response.content


def test_a_storage_failure_leaves_no_row(
    owner_client: Client, monkeypatch: Any, media_root: Path
) -> None:
    real_save = FileSystemStorage._save  # type: ignore[attr-defined]
    calls = iter(range(10))

    def fail_on_second_file(self: Any, name: str, content: Any) -> str:
        if next(calls) == 1:
            raise OSError("disk full")
        return real_save(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", fail_on_second_file)
    response = post(owner_client, upload_file("a.jpg", make_jpeg()))
    assert b"a.jpg was not stored: it could not be saved" in response.content
    assert Image.objects.count() == 0
    assert stored_files(media_root) == []


def test_a_row_failure_leaves_no_file(
    owner_client: Client, monkeypatch: Any, media_root: Path
) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(Image.objects, "create", fail)
    response = post(owner_client, upload_file("a.jpg", make_jpeg()))
    assert b"a.jpg was not stored: it could not be saved" in response.content
    assert stored_files(media_root) == []


def test_storage_names_are_per_user_and_not_guessable(owner: Any, owner_client: Client) -> None:
    post(owner_client, upload_file("a.jpg", make_jpeg()), upload_file("b.jpg", make_jpeg((8, 8))))
    names = [str(image.original.name) for image in Image.objects.all()]
    assert all(name.startswith(f"images/{owner.pk}/") for name in names)
    assert all(len(name.split("/")[2]) == 32 for name in names)  # a random uuid4 hex
    assert "a.jpg" not in " ".join(names)


def test_script_upload_gets_json_with_where_to_go(owner_client: Client) -> None:
    response = post(
        owner_client, upload_file("a.jpg", make_jpeg()), HTTP_X_REQUESTED_WITH="XMLHttpRequest"
    )
    assert response.json() == {"redirect": "/", "stored": 1}


def test_detection_runs_at_upload_when_enabled(
    owner_client: Client, settings: Any, detector: Any
) -> None:
    settings.FINDLABELS_DETECT_ON_UPLOAD = True
    post(owner_client, upload_file("a.jpg", make_jpeg()))
    assert Image.objects.get().labels.filter(name="Cat").exists()


def test_a_detection_failure_at_upload_still_keeps_the_photo(
    owner_client: Client, settings: Any, detector: Any
) -> None:
    from gallery.detection import DetectionError

    settings.FINDLABELS_DETECT_ON_UPLOAD = True
    detector.error = DetectionError("engine unavailable", permanent=False)
    response = post(owner_client, upload_file("a.jpg", make_jpeg()))
    assert b"a.jpg was stored, but finding labels failed: engine unavailable" in response.content
    assert Image.objects.count() == 1


def test_anonymous_upload_is_refused(client: Client) -> None:
    response = client.post("/upload/", {"images": [upload_file("a.jpg", make_jpeg())]})
    assert response.status_code == 302
    assert Image.objects.count() == 0


def test_heic_is_accepted_and_shown_as_jpeg(owner_client: Client) -> None:
    out = io.BytesIO()
    PILImage.new("RGB", (64, 48), "red").save(out, "HEIF")
    post(owner_client, upload_file("phone.heic", out.getvalue(), "image/heic"))
    image = Image.objects.get()
    assert image.content_type == "image/heic"
    shown = owner_client.get(f"/images/{image.pk}/display")
    assert shown["Content-Type"] == "image/jpeg"
    with PILImage.open(io.BytesIO(shown.getvalue())) as img:
        assert img.format == "JPEG" and img.size == (64, 48)


@pytest.mark.parametrize("kind", ["jpeg", "png", "webp"])
def test_damaged_files_of_every_kind_are_refused_never_a_500(
    kind: str, owner_client: Client
) -> None:
    out = io.BytesIO()
    PILImage.effect_noise((64, 48), 40).convert("RGB").save(out, kind.upper())
    good = out.getvalue()
    # Flip bytes across the header and the data: whatever Pillow raises, the
    # person gets a sentence and the good file sent beside it is still stored.
    # A flip inside the pixel data may leave a file that still decodes: it is
    # stored, and then it must be shown.
    refused = stored = 0
    for number, offset in enumerate(range(8, min(len(good), 400), 23)):
        damaged = bytearray(good)
        damaged[offset] ^= 0xFF
        name = f"d{offset}.{kind}"
        beside = upload_file(f"good{offset}.jpg", make_jpeg(color=(12 * number, 80, 40)))
        response = post(owner_client, upload_file(name, bytes(damaged)), beside)
        assert response.status_code == 200, name
        assert Image.objects.filter(original_name=f"good{offset}.jpg").exists(), name
        if f"{name} was not stored: ".encode() in response.content:
            refused += 1
            assert not Image.objects.filter(original_name=name).exists(), name
        else:
            image = Image.objects.get(original_name=name)
            assert owner_client.get(f"/images/{image.pk}/thumbnail").status_code == 200, name
            stored += 1
    # Most flips in JPEG and WebP pixel data still decode; some must not have.
    assert refused >= 1, f"none of {stored} damaged {kind} files was refused"
