"""`manage.py detect_labels`: the command-line contract of design.md, on the real engine."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import FIXTURES, make_jpeg, make_png, run_bare

PHOTOS = FIXTURES / "photos"


def bad_files(folder: Path) -> dict[str, Path]:
    png = bytearray(make_png((64, 48)))
    png[16:24] = (30000).to_bytes(4, "big") * 2  # IHDR width and height
    contents = {
        "empty.jpg": b"",
        "truncated.jpg": make_jpeg((640, 480))[:600],
        "notes.jpg": b"shopping list: eggs, milk, bread\n" * 20,
        "huge-header.png": bytes(png),
    }
    paths = {}
    for name, data in contents.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


def file_args(*paths: Path) -> list[str]:
    return [arg for path in paths for arg in ("--file", str(path))]


def run_json(*args: str) -> tuple[list[dict[str, Any]], str | None]:
    out = io.StringIO()
    try:
        call_command("detect_labels", *args, "--format", "json", stdout=out)
    except CommandError as exc:
        return json.loads(out.getvalue()), str(exc)
    return json.loads(out.getvalue()), None


def test_json_output_is_one_array_in_the_shape_of_the_contract() -> None:
    files = [PHOTOS / "coffee.jpg", PHOTOS / "grace_hopper.jpg"]
    results, error = run_json(*file_args(*files))
    assert error is None
    assert [result["file"] for result in results] == [str(path) for path in files]
    for result in results:
        assert set(result) == {"file", "engine", "model_version", "labels", "text", "properties"}
        assert result["engine"] == "local"
        confidences = [label["confidence"] for label in result["labels"]]
        assert confidences == sorted(confidences, reverse=True)
        for label in result["labels"]:
            assert set(label) >= {"name", "confidence", "parents", "instances"}
            assert 0 <= label["confidence"] <= 100
            for instance in label["instances"]:
                assert set(instance["bounding_box"]) == {"left", "top", "width", "height"}
    coffee = {label["name"]: label for label in results[0]["labels"]}
    assert "Beverage" in coffee["Coffee"]["parents"]
    faces = {label["name"]: label for label in results[1]["labels"]}["Face"]
    assert faces["instances"], "the portrait's face comes with a box"


def test_min_confidence_leaves_out_the_labels_below_it() -> None:
    results, _ = run_json("--file", str(PHOTOS / "china.jpg"), "--min-confidence", "40")
    assert results[0]["labels"]
    assert all(label["confidence"] >= 40 for label in results[0]["labels"])
    everything, _ = run_json("--file", str(PHOTOS / "china.jpg"))
    assert len(everything[0]["labels"]) > len(results[0]["labels"])


def test_bad_files_get_an_error_each_and_the_good_one_is_still_labelled(tmp_path: Path) -> None:
    bad = bad_files(tmp_path)
    missing = tmp_path / "missing.jpg"
    paths = [PHOTOS / "chelsea_cat.jpg", *bad.values(), missing]
    results, error = run_json(*file_args(*paths))
    assert error == f"{len(bad) + 1} of {len(paths)} file(s) could not be labelled."
    assert [result["file"] for result in results] == [str(path) for path in paths]
    assert "Cat" in {label["name"] for label in results[0]["labels"]}
    for result in results[1:]:
        assert set(result) == {"file", "error"}
        assert result["error"]
    by_name = {Path(result["file"]).name: result["error"] for result in results[1:]}
    assert "empty" in by_name["empty.jpg"].lower()
    assert "cannot read the file" in by_name["missing.jpg"]


def test_the_command_runs_with_nothing_set_and_exits_non_zero_after_printing(
    tmp_path: Path,
) -> None:
    """As a newcomer or a benchmark runs it: no DEBUG, no secret key, no settings module."""
    truncated = bad_files(tmp_path)["truncated.jpg"]
    files = file_args(PHOTOS / "coffee.jpg", truncated)
    result = run_bare("manage.py", "detect_labels", "--format", "json", *files)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "1 of 2 file(s) could not be labelled." in result.stderr
    coffee, broken = json.loads(result.stdout)
    assert coffee["labels"][0]["confidence"] > 0
    assert broken["file"] == str(truncated) and broken["error"]


def test_the_table_names_each_label_with_its_confidence_and_parents(tmp_path: Path) -> None:
    out = io.StringIO()
    empty = bad_files(tmp_path)["empty.jpg"]
    with pytest.raises(CommandError):
        call_command("detect_labels", *file_args(PHOTOS / "coffee.jpg", empty), stdout=out)
    table = out.getvalue()
    assert "(local " in table
    assert "%  Coffee  < " in table and "Beverage" in table
    assert f"{empty}: ERROR " in table


@pytest.mark.django_db
def test_all_missing_only_labels_the_unlabelled_images_of_one_owner(
    make_image: Callable[..., Any], make_user: Callable[..., Any], owner: Any
) -> None:
    labelled, unlabelled = make_image(), make_image()
    labelled.detected_at = labelled.uploaded_at
    labelled.save(update_fields=["detected_at"])
    someone_else = make_image(user=make_user("else@example.com"))

    call_command("detect_labels", "--all", "--missing-only", "--user", owner.email)

    for image in (labelled, unlabelled, someone_else):
        image.refresh_from_db()
    assert unlabelled.engine == "local" and unlabelled.labels.exists()
    assert not labelled.labels.exists(), "already labelled: left alone"
    assert someone_else.detected_at is None, "another owner's image: left alone"


@pytest.mark.django_db
def test_all_for_an_unknown_user_says_so() -> None:
    with pytest.raises(CommandError, match=r"No stored images for nobody@example\.com\."):
        call_command("detect_labels", "--all", "--user", "nobody@example.com")


def label_as(image: Any, engine: str, model_version: str) -> None:
    from django.utils import timezone

    from gallery.models import Image

    Image.objects.filter(pk=image.pk).update(
        engine=engine, model_version=model_version, detected_at=timezone.now()
    )


@pytest.mark.django_db
def test_all_outdated_reruns_only_images_labelled_by_another_engine_or_version(
    make_image: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from gallery.detection import get_detector

    current = get_detector().model_version  # type: ignore[attr-defined]
    old, fresh, other_engine, unlabelled = (make_image() for _ in range(4))
    label_as(old, "local", "efficientnet-lite0+taxonomy-0+blazeface")
    label_as(fresh, "local", current)
    label_as(other_engine, "rekognition", "3.0")

    call_command("detect_labels", "--all", "--outdated")

    for image in (old, fresh, other_engine, unlabelled):
        image.refresh_from_db()
    assert (old.engine, old.model_version) == ("local", current) and old.labels.exists()
    assert (other_engine.engine, other_engine.model_version) == ("local", current)
    assert not fresh.labels.exists(), "labelled by the current version: left alone"
    assert unlabelled.detected_at is None, "never labelled: not outdated"
    assert "2/2" in capsys.readouterr().err, "the progress bar counts the outdated images"


@pytest.mark.django_db
def test_outdated_with_missing_only_also_labels_the_unlabelled(
    make_image: Callable[..., Any],
) -> None:
    old, unlabelled = make_image(), make_image()
    label_as(old, "local", "an-older-version")

    call_command("detect_labels", "--all", "--outdated", "--missing-only")

    for image in (old, unlabelled):
        image.refresh_from_db()
        assert image.labels.exists()


@pytest.mark.django_db
def test_for_an_engine_that_cannot_name_its_version_only_other_engines_are_outdated(
    make_image: Callable[..., Any],
) -> None:
    from gallery.models import Image

    local, rekognition_old, rekognition_new, _unlabelled = (make_image() for _ in range(4))
    label_as(local, "local", "efficientnet-lite0")
    label_as(rekognition_old, "rekognition", "2.0")
    label_as(rekognition_new, "rekognition", "3.0")

    assert list(Image.objects.outdated("rekognition", None)) == [local]
    assert set(Image.objects.outdated("rekognition", "3.0")) == {local, rekognition_old}


def test_selection_options_without_all_are_refused() -> None:
    with pytest.raises(CommandError, match="go with --all"):
        call_command("detect_labels", "--file", str(PHOTOS / "coffee.jpg"), "--outdated")
