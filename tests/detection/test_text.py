"""Text in photos: PP-OCRv6 tiny through rapidocr, and the Text/Document labels.

The models must be in the model cache (`manage.py prepare_model`, run by
`make test`); a missing model is a failure, never a skip.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFilter

from gallery.detection import text
from gallery.detection.modelcache import model_file
from gallery.detection.text import DET_FILE, DICT_FILE, REC_FILE, TextReader, text_labels
from gallery.detection.types import BoundingBox, DetectionError, TextLine

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"


def photo(name: str) -> Image.Image:
    with Image.open(PHOTOS / name) as img:
        return img.convert("RGB")


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader.load()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any attempt to open a connection fails the test (and is recorded)."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))  # type: ignore[arg-type]
    return attempts


def test_it_reads_the_words_on_a_photographed_page_without_network(no_network: list[Any]) -> None:
    # A fresh reader, built and run with the network blocked: every model
    # path comes from the cache, so rapidocr never tries to download.
    fresh = TextReader(model_file(DET_FILE), model_file(REC_FILE), model_file(DICT_FILE))

    lines = fresh.read(photo("page.jpg"))

    assert no_network == []
    assert lines[0].text == "Region-based segmentation"
    assert lines[0].confidence > 90
    words = " ".join(line.text for line in lines).split()
    assert {"markers", "coins", "background.", "histogram"} <= set(words)
    # Lines come top to bottom, each box inside the photo and around its line.
    tops = [line.bounding_box.top for line in lines]
    assert tops == sorted(tops)
    heading = lines[0].bounding_box
    assert heading.top < 0.1 and heading.height < 0.25 and 0.5 < heading.width <= 1.0


def test_it_reads_a_street_sign(reader: TextReader) -> None:
    sign = photo("sign.jpg")

    lines = reader.read(sign)

    texts = [line.text for line in lines]
    assert texts[:4] == ["NOTICE", "DOUBLE", "PARKING", "PROHIBITED"]
    parking = lines[2].bounding_box
    # The sign hangs in the upper middle of the photo.
    assert 0.3 < parking.left < 0.4 and 0.15 < parking.top < 0.3
    labels = by_name(text_labels(lines, sign.size))
    assert labels["Text"].confidence > 90
    assert "Document" not in labels, "a street sign is text, not a document"


def test_a_photo_without_text_costs_only_the_detector(
    reader: TextReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    recognised: list[int] = []
    original = reader._engine.recognize_txt

    def counting(images: list[Any]) -> Any:
        recognised.append(len(images))
        return original(images)

    monkeypatch.setattr(reader._engine, "recognize_txt", counting)

    assert reader.read(photo("chelsea_cat.jpg")) == ()
    assert recognised == []
    assert reader.read(photo("page.jpg"))
    assert recognised == [7]


def test_it_reads_nothing_in_a_blurred_page(reader: TextReader) -> None:
    blurred = photo("page.jpg").filter(ImageFilter.GaussianBlur(12))

    assert reader.read(blurred) == ()


def test_it_reads_grey_and_rgba_pictures(reader: TextReader) -> None:
    page = photo("page.jpg")

    assert reader.read(page.convert("L"))[0].text == "Region-based segmentation"
    assert reader.read(page.convert("RGBA"))[0].text == "Region-based segmentation"


def test_a_missing_model_names_the_set_up_step(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.FINDLABELS_MODEL_CACHE_DIR = tmp_path
    monkeypatch.setattr(TextReader, "_shared", None)

    with pytest.raises(DetectionError, match="prepare_model") as raised:
        TextReader.load()
    assert raised.value.permanent is False


def test_a_damaged_model_is_a_detection_error_without_paths(tmp_path: Path) -> None:
    damaged = tmp_path / "det.onnx"
    damaged.write_bytes(b"not a model")

    with pytest.raises(DetectionError) as raised:
        TextReader(damaged, model_file(REC_FILE), model_file(DICT_FILE))
    assert str(tmp_path) not in raised.value.message
    assert raised.value.permanent is False


# -- labels ----------------------------------------------------------------


def line(words: str, confidence: float, top: float, height: float = 0.05) -> TextLine:
    return TextLine(words, confidence, BoundingBox(0.1, top, 0.8, height))


def by_name(labels: list[Any]) -> dict[str, Any]:
    return {label.name: label for label in labels}


def test_a_page_of_text_is_text_and_a_document(reader: TextReader) -> None:
    page = photo("page.jpg")

    labels = by_name(text_labels(reader.read(page), page.size))

    assert labels["Text"].confidence > 90
    assert len(labels["Text"].instances) == 7
    document = labels["Document"]
    assert document.confidence > 80
    assert document.parents == ("Text",)
    box = document.instances[0].bounding_box
    assert box.top < 0.05 and box.height > 0.8 and box.width > 0.95


def test_a_sign_is_text_but_not_a_document() -> None:
    # One big word in the middle of a street photo.
    sign = [line("STOP", 96.0, top=0.4, height=0.12)]

    labels = by_name(text_labels(sign, (4000, 3000)))

    assert set(labels) == {"Text"}
    assert 60 < labels["Text"].confidence < 96
    assert labels["Text"].instances[0].bounding_box == sign[0].bounding_box


def test_a_poster_of_big_words_is_not_a_document() -> None:
    poster = [line(word, 95.0, top=0.05 + 0.3 * i, height=0.25) for i, word in enumerate(
        ["GRAND", "OPENING", "SALE"])]  # fmt: skip

    assert set(by_name(text_labels(poster, (1000, 1000)))) == {"Text"}


def test_a_stray_glyph_stays_below_the_default_slider() -> None:
    # The recogniser reads an "8" in the foam of a coffee at 73%.
    labels = text_labels([line("8", 73.0, top=0.5)], (600, 400))

    assert [label.name for label in labels] == ["Text"]
    assert labels[0].confidence < 40


def test_no_lines_no_labels() -> None:
    assert text_labels([], (640, 480)) == []


def test_a_long_page_keeps_its_text_but_not_every_box() -> None:
    page = [line(f"line {i} of a long page", 95.0, top=i / 200, height=0.004) for i in range(200)]

    labels = by_name(text_labels(page, (3000, 4000)))

    assert len(labels["Text"].instances) == text.MAX_LINE_BOXES
    assert "Document" in labels


@pytest.mark.parametrize("size", [(1, 1), (12, 12), (1, 1000), (5000, 20), (20, 5000)])
def test_tiny_and_sliver_pictures_have_no_text_and_no_error(
    reader: TextReader, size: tuple[int, int]
) -> None:
    assert reader.read(Image.new("RGB", size, (255, 255, 255))) == ()
