"""Measured image properties, like Rekognition's ``IMAGE_PROPERTIES``.

Dominant colours (by simplified name, with the mean colour's hex code and the
share of pixels), brightness and sharpness, each 0-100. Everything works on
small copies of the photo: colours on at most 96 px, sharpness on about 512 px,
so that a photo costs a few milliseconds after the engine's shared decode.

Colour names are the eleven a person searches with ("red car"): red,
orange, yellow, green, blue, purple, pink, brown, black, white, gray. Each
pixel is named from its hue, saturation and value; a colour's hex code is
the mean of the pixels so named.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .types import BoundingBox, DominantColor, ImageProperties

COLOR_NAMES = (
    "red", "orange", "yellow", "green", "blue", "purple", "pink",
    "brown", "black", "white", "gray",
)  # fmt: skip

COLOR_SIDE = 96  # long side for colours
BOX_COLOR_SIDE = 48
SHARPNESS_SIDE = 512  # long side for sharpness: about what a screen shows of a photo
# A colour covering less of the photo is not "dominant".
MIN_COLOR_PERCENT = 3.0
MAX_COLORS = 6
# An object's colours: those covering at least this share of its box (centre).
MIN_BOX_COLOR_SHARE = 0.2
MAX_BOX_COLORS = 3
# Boxes hug their object loosely: the outer margin is mostly background.
BOX_MARGIN = 0.15
# Sharpness is the variance of the Laplacian (grey levels 0-255) on a log
# scale between these two: measured on the fixture photos, those in focus
# give 400-5600, the same blurred by 1 px 25-250, by 2 px 4-12.
BLURRED_VARIANCE = 5.0
SHARP_VARIANCE = 2000.0

# Hue bounds in degrees (upper bounds, exclusive) for saturated colours.
_HUES = (
    (15.0, 0),  # red
    (40.0, 1),  # orange
    (70.0, 2),  # yellow
    (165.0, 3),  # green
    (255.0, 4),  # blue (cyan and teal included)
    (290.0, 5),  # purple
    (340.0, 6),  # pink (magenta)
    (360.0, 0),  # red again
)
_RED, _ORANGE, _YELLOW, _PURPLE, _PINK, _BROWN, _BLACK, _WHITE, _GRAY = 0, 1, 2, 5, 6, 7, 8, 9, 10


def measure(img: Image.Image) -> ImageProperties:
    """Dominant colours, brightness and sharpness of an upright RGB photo."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    # A whole-factor box reduction first (cheap, and it averages) to about
    # SHARPNESS_SIDE, whatever size the engine decoded.
    factor = max(1, round(max(rgb.size) / SHARPNESS_SIDE))
    reduced = rgb.reduce(factor) if factor > 1 else rgb
    pixels = np.asarray(_fit(reduced, COLOR_SIDE), dtype=np.float32).reshape(-1, 3)
    colors = _dominant(pixels, color_indices(pixels))
    grey = np.asarray(reduced.convert("L"), dtype=np.float32)
    return ImageProperties(
        colors=colors,
        brightness=float(grey.mean()) / 255.0 * 100.0,
        sharpness=sharpness(grey),
    )


def box_colors(img: Image.Image, box: BoundingBox) -> tuple[str, ...]:
    """The simplified colour names of an object, most of it first.

    ``box`` is in ratios of ``img``'s size, as every Instance's is; only the
    centre of the box is looked at, since its margin is mostly background.
    """
    width, height = img.size
    left = (box.left + box.width * BOX_MARGIN) * width
    right = (box.left + box.width * (1 - BOX_MARGIN)) * width
    top = (box.top + box.height * BOX_MARGIN) * height
    bottom = (box.top + box.height * (1 - BOX_MARGIN)) * height
    crop_box = (
        max(0, int(left)),
        max(0, int(top)),
        min(width, max(int(left) + 1, round(right))),
        min(height, max(int(top) + 1, round(bottom))),
    )
    if crop_box[0] >= crop_box[2] or crop_box[1] >= crop_box[3]:
        return ()
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    crop = _fit(rgb.crop(crop_box), BOX_COLOR_SIDE)
    names = color_indices(np.asarray(crop, dtype=np.float32).reshape(-1, 3))
    shares = np.bincount(names, minlength=len(COLOR_NAMES)) / max(1, names.size)
    order = [int(index) for index in np.argsort(-shares, kind="stable")]
    kept = [COLOR_NAMES[index] for index in order if shares[index] >= MIN_BOX_COLOR_SHARE]
    return tuple(kept[:MAX_BOX_COLORS] or [COLOR_NAMES[order[0]]])


def color_indices(pixels: np.ndarray) -> np.ndarray:
    """Index into COLOR_NAMES for each (R, G, B) row of 0-255 values."""
    rgb = pixels / 255.0
    value = rgb.max(axis=1)
    chroma = value - rgb.min(axis=1)
    saturation = np.divide(chroma, value, out=np.zeros_like(value), where=value > 0)
    hue = _hue_degrees(rgb, value, chroma)

    names = np.zeros(len(pixels), dtype=np.int64)
    for upper, index in reversed(_HUES):
        names[hue < upper] = index
    # Dark oranges and yellows are what people call brown (wood, soil, fur),
    # and so are dull light ones (tan).
    brownish = (hue >= 15.0) & (hue < 50.0)
    names[brownish & (value < 0.65) & (saturation > 0.25)] = _BROWN
    names[(names == _ORANGE) & (saturation < 0.45) & (value < 0.85)] = _BROWN
    # Dark magentas are purple.
    names[(names == _PINK) & (value < 0.6)] = _PURPLE
    # Light, soft reds are pink.
    names[(names == _RED) & (saturation < 0.5) & (value > 0.7)] = _PINK
    # Little colour at all: black, white or gray by lightness.
    achromatic = (chroma < 0.12) | (saturation < 0.15)
    names[achromatic] = _GRAY
    names[achromatic & (value >= 0.82)] = _WHITE
    names[value < 0.18] = _BLACK
    names[achromatic & (value < 0.22)] = _BLACK
    return names


def sharpness(grey: np.ndarray) -> float:
    """0-100 from the variance of the Laplacian of a grey image (0-255)."""
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    laplacian = (
        grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    )
    variance = max(float(laplacian.var()), BLURRED_VARIANCE)
    scale = np.log(variance / BLURRED_VARIANCE) / np.log(SHARP_VARIANCE / BLURRED_VARIANCE)
    return float(100.0 * min(1.0, scale))


def _hue_degrees(rgb: np.ndarray, value: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    red, green, blue = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    safe = np.where(chroma > 0, chroma, 1.0)
    hue = np.where(
        value == red,
        ((green - blue) / safe) % 6,
        np.where(value == green, (blue - red) / safe + 2, (red - green) / safe + 4),
    )
    return np.asarray(hue * 60.0, dtype=np.float32)


def _dominant(pixels: np.ndarray, names: np.ndarray) -> tuple[DominantColor, ...]:
    counts = np.bincount(names, minlength=len(COLOR_NAMES))
    found: list[DominantColor] = []
    for index in np.argsort(-counts, kind="stable")[:MAX_COLORS]:
        percent = 100.0 * counts[index] / max(1, names.size)
        if percent < MIN_COLOR_PERCENT:
            break
        mean = pixels[names == index].mean(axis=0)
        red, green, blue = (round(float(channel)) for channel in mean)
        found.append(
            DominantColor(
                COLOR_NAMES[index], f"#{red:02x}{green:02x}{blue:02x}", round(float(percent), 1)
            )
        )
    return tuple(found)


def _fit(img: Image.Image, side: int) -> Image.Image:
    width, height = img.size
    scale = side / max(width, height)
    if scale >= 1.0:
        return img
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # reducing_gap box-reduces a large photo first: cheap, and it averages.
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
