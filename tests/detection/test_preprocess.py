"""Turning uploaded bytes into what the on-box models need."""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from gallery.detection.preprocess import MIN_SIDE, load_image, to_classifier_input
from gallery.detection.types import DetectionError
from tools.models.efficientnet import ensure_model

from .conftest import PHOTOS

ORIENTATION = 0x0112
# Stored pixels for each EXIF orientation: the upright picture turned the
# opposite way to what Pillow's exif_transpose undoes.
STORED_AS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def encode(img: Image.Image, fmt: str = "JPEG", orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 100, "subsampling": 0} if fmt == "JPEG" else {}
    if orientation:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        options["exif"] = exif.tobytes()
    img.save(out, fmt, **options)
    return out.getvalue()


def upright_photo(name: str = "chelsea_cat.jpg") -> Image.Image:
    with Image.open(PHOTOS / name) as img:
        return img.convert("RGB")


@pytest.fixture(scope="module")
def session(classifier_cache: Path) -> ort.InferenceSession:
    path = ensure_model("efficientnet-lite0", classifier_cache)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def top5(session: ort.InferenceSession, tensor: np.ndarray) -> list[int]:
    logits = session.run(["logits"], {"input": tensor})[0][0]
    return np.argsort(logits)[::-1][:5].tolist()


@pytest.mark.parametrize("orientation", sorted(STORED_AS))
def test_exif_rotated_copy_gives_the_same_input_and_classes_as_the_upright_photo(
    orientation: int, session: ort.InferenceSession
) -> None:
    upright = upright_photo()
    rotated = upright.transpose(STORED_AS[orientation])

    expected = to_classifier_input(load_image(encode(upright)), 224)
    got_img = load_image(encode(rotated, orientation=orientation))
    got = to_classifier_input(got_img, 224)

    assert got_img.size == upright.size
    # Re-encoding turned pixels is not bit-exact JPEG; the picture is the same.
    assert np.abs(got - expected).mean() < 0.01
    assert top5(session, got) == top5(session, expected)


def test_it_decodes_a_12_megapixel_jpeg_in_draft_mode() -> None:
    big = upright_photo("china.jpg").resize((4000, 3000))

    img = load_image(encode(big))

    assert img.mode == "RGB"
    assert MIN_SIDE <= min(img.size) < 2 * MIN_SIDE
    assert img.size == (500, 375)  # libjpeg's 1/8 scale, never the full 12 MP


def test_it_reduces_large_non_jpeg_images_by_a_whole_factor() -> None:
    big = upright_photo("china.jpg").resize((2000, 1334))

    img = load_image(encode(big, "PNG"))

    assert MIN_SIDE <= min(img.size) < 2 * MIN_SIDE
    assert img.size == (500, 333) or img.size == (500, 334)


def test_small_photos_keep_their_size() -> None:
    img = load_image((PHOTOS / "grace_hopper.jpg").read_bytes())

    assert img.size == (512, 600)


def test_transparent_pixels_become_white_not_black() -> None:
    rgba = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    rgba.paste((200, 0, 0, 255), (100, 100, 300, 300))

    img = load_image(encode(rgba, "PNG"))

    assert img.mode == "RGB"
    assert img.getpixel((10, 10)) == (255, 255, 255)
    assert img.getpixel((200, 200)) == (200, 0, 0)


def test_sixteen_bit_greyscale_keeps_its_tones() -> None:
    grey = Image.fromarray(np.full((400, 400), 32768, dtype=np.uint16))

    img = load_image(encode(grey, "PNG"))

    assert img.mode == "RGB"
    pixel = img.getpixel((5, 5))
    assert isinstance(pixel, tuple) and 120 <= pixel[0] <= 135


def test_classifier_input_is_nchw_float32_scaled_like_efficientnet_lite() -> None:
    white = Image.new("RGB", (640, 480), (255, 255, 255))
    black = Image.new("RGB", (480, 640), (0, 0, 0))

    x_white = to_classifier_input(white, 224)
    x_black = to_classifier_input(black, 260, 260 / 292)

    assert x_white.shape == (1, 3, 224, 224) and x_white.dtype == np.float32
    assert x_white.flags["C_CONTIGUOUS"]
    assert np.allclose(x_white, (255 - 127) / 128)
    assert x_black.shape == (1, 3, 260, 260)
    assert np.allclose(x_black, -127 / 128)


# -- files that are not usable images ------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size its (absent) pixel data never delivers."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + iend


def test_it_rejects_an_empty_file() -> None:
    with pytest.raises(DetectionError, match="empty") as caught:
        load_image(b"")
    assert caught.value.permanent


def test_it_rejects_truncated_jpeg() -> None:
    data = (PHOTOS / "china.jpg").read_bytes()

    with pytest.raises(DetectionError, match="incomplete") as caught:
        load_image(data[: len(data) // 2])
    assert caught.value.permanent


def test_it_rejects_a_text_file_named_jpg(tmp_path: Path) -> None:
    fake = tmp_path / "holiday.jpg"
    fake.write_text("Dear diary, today we went to the beach.\n" * 20)

    with pytest.raises(DetectionError, match="not an image") as caught:
        load_image(fake.read_bytes())
    assert "JPEG, PNG, WEBP" in caught.value.message


def test_it_rejects_a_png_claiming_30000_by_30000_pixels() -> None:
    with pytest.raises(DetectionError, match="too large") as caught:
        load_image(png_claiming(30000, 30000))
    assert "megapixels" in caught.value.message


def test_it_rejects_images_over_the_max_pixels_setting(settings: object) -> None:
    settings.FINDLABELS_MAX_PIXELS = 20_000_000  # type: ignore[attr-defined]

    with pytest.raises(DetectionError, match=r"too large to process \(6000x4000 pixels\)"):
        load_image(png_claiming(6000, 4000))


def test_it_rejects_an_image_format_it_does_not_open() -> None:
    out = io.BytesIO()
    upright_photo().save(out, "PPM")

    with pytest.raises(DetectionError, match="not an image in a format we read"):
        load_image(out.getvalue())


@pytest.mark.filterwarnings("ignore")  # Pillow warns about each damaged TIFF tag
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_damaged_files_raise_detection_error_and_nothing_else(fmt: str) -> None:
    good = encode(upright_photo().resize((120, 80)), fmt)
    rng = random.Random(f"fuzz-{fmt}")
    outcomes = {"rejected": 0, "read": 0}
    for _ in range(150):
        damaged = bytearray(good)
        if rng.random() < 0.5:
            del damaged[rng.randrange(1, len(damaged)) :]
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            img = load_image(bytes(damaged))
        except DetectionError as exc:
            assert exc.message and exc.permanent
            outcomes["rejected"] += 1
        else:
            assert img.mode == "RGB"
            outcomes["read"] += 1
    assert outcomes["rejected"] > 0
