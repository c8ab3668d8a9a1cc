"""Measured image properties: dominant colours, brightness, sharpness, box colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from gallery.detection.properties import COLOR_NAMES, box_colors, color_indices, measure
from gallery.detection.types import BoundingBox

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"


def photo(name: str) -> Image.Image:
    with Image.open(PHOTOS / name) as img:
        return img.convert("RGB")


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((230, 20, 30), "red"),
        ((128, 0, 0), "red"),  # maroon
        ((255, 140, 0), "orange"),
        ((250, 220, 40), "yellow"),
        ((34, 139, 34), "green"),
        ((0, 100, 0), "green"),
        ((0, 0, 128), "blue"),  # navy
        ((135, 206, 235), "blue"),  # sky blue
        ((128, 0, 128), "purple"),
        ((75, 0, 130), "purple"),  # indigo
        ((255, 192, 203), "pink"),
        ((255, 105, 180), "pink"),
        ((139, 69, 19), "brown"),  # saddle brown
        ((210, 180, 140), "brown"),  # tan
        ((10, 10, 12), "black"),
        ((250, 250, 250), "white"),
        ((128, 128, 128), "gray"),
        ((192, 192, 192), "gray"),  # silver
    ],
)
def test_it_names_known_colours(rgb: tuple[int, int, int], name: str) -> None:
    (index,) = color_indices(np.array([rgb], dtype=np.float32))

    assert COLOR_NAMES[index] == name


def test_a_plain_picture_has_one_colour_with_its_hex() -> None:
    properties = measure(Image.new("RGB", (400, 300), (200, 30, 40)))

    assert len(properties.colors) == 1
    (color,) = properties.colors
    assert (color.name, color.hex, color.pixel_percent) == ("red", "#c81e28", 100.0)


def test_colours_are_shared_by_their_pixels_largest_first() -> None:
    img = Image.new("RGB", (400, 400), (255, 255, 255))
    ImageDraw.Draw(img).rectangle((0, 0, 399, 299), fill=(20, 60, 200))  # top three quarters

    colors = measure(img).colors

    assert [color.name for color in colors] == ["blue", "white"]
    assert colors[0].pixel_percent == pytest.approx(75, abs=2)
    assert colors[1].pixel_percent == pytest.approx(25, abs=2)


def test_specks_of_colour_are_not_dominant() -> None:
    img = Image.new("RGB", (400, 400), (250, 250, 250))
    ImageDraw.Draw(img).rectangle((0, 0, 39, 39), fill=(255, 0, 0))  # 1% of the picture

    assert [color.name for color in measure(img).colors] == ["white"]


def test_real_photos_get_the_colours_a_person_sees() -> None:
    cat = [color.name for color in measure(photo("chelsea_cat.jpg")).colors]
    page = [color.name for color in measure(photo("page.jpg")).colors]

    assert cat[0] == "brown"  # a tabby
    assert set(page) == {"gray", "white"}


def test_brightness_runs_from_black_to_white() -> None:
    black = measure(Image.new("RGB", (200, 200), (0, 0, 0))).brightness
    grey = measure(Image.new("RGB", (200, 200), (128, 128, 128))).brightness
    white = measure(Image.new("RGB", (200, 200), (255, 255, 255))).brightness

    assert black == 0.0 and white == 100.0
    assert grey == pytest.approx(50, abs=1)


def test_a_blurred_photo_is_less_sharp() -> None:
    sharp = photo("motorcycle.jpg")
    soft = sharp.filter(ImageFilter.GaussianBlur(1))
    blurred = sharp.filter(ImageFilter.GaussianBlur(4))

    in_focus = measure(sharp).sharpness
    assert in_focus is not None and in_focus > 80
    assert in_focus > (measure(soft).sharpness or 0) > (measure(blurred).sharpness or 0)
    assert measure(blurred).sharpness == pytest.approx(0, abs=5)
    assert measure(Image.new("RGB", (300, 200), (90, 90, 90))).sharpness == 0.0


def test_sharpness_does_not_depend_on_the_decoded_size() -> None:
    page = photo("page.jpg")
    larger = page.resize((page.width * 4, page.height * 4), Image.Resampling.BICUBIC)

    assert measure(larger).sharpness == pytest.approx(measure(page).sharpness, abs=15)


def test_grey_pictures_are_measured() -> None:
    properties = measure(photo("page.jpg").convert("L"))

    assert {color.name for color in properties.colors} == {"gray", "white"}


def red_car_on_grass() -> Image.Image:
    img = Image.new("RGB", (800, 600), (40, 140, 40))
    ImageDraw.Draw(img).rectangle((200, 200, 499, 399), fill=(210, 20, 25))
    return img


def test_a_box_gets_the_colour_of_its_object_not_the_background() -> None:
    # The box is looser than the object, as a detector's often is.
    box = BoundingBox(left=180 / 800, top=180 / 600, width=340 / 800, height=240 / 600)

    assert box_colors(red_car_on_grass(), box) == ("red",)


def test_the_woman_in_red_in_a_street_photo_is_red() -> None:
    # sign.jpg: a woman in a red dress at the right edge, as a detector boxes her.
    woman = BoundingBox(left=0.84, top=0.61, width=0.16, height=0.39)

    assert box_colors(photo("sign.jpg"), woman)[0] == "red"


def test_a_box_with_two_colours_names_both_largest_first() -> None:
    img = Image.new("RGB", (400, 400), (255, 255, 255))
    ImageDraw.Draw(img).rectangle((0, 0, 399, 239), fill=(250, 210, 0))  # upper 60% yellow

    assert box_colors(img, BoundingBox(0.0, 0.0, 1.0, 1.0)) == ("yellow", "white")


def test_a_box_outside_the_picture_has_no_colours() -> None:
    assert box_colors(red_car_on_grass(), BoundingBox(1.0, 1.0, 0.0, 0.0)) == ()


def test_a_tiny_box_still_gets_a_colour() -> None:
    box = BoundingBox(left=0.3, top=0.4, width=0.002, height=0.002)

    assert box_colors(red_car_on_grass(), box) == ("red",)
