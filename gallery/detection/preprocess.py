"""Stateless image helpers for the on-box detectors.

:func:`load_image` turns uploaded bytes into an upright RGB picture that is
only as large as the models need: JPEGs are decoded in draft mode (libjpeg
scales by 1/2, 1/4 or 1/8 while decoding), so a 12-megapixel photo is never
decoded in full to feed a 224-pixel network. Anything that is not a readable
image becomes a :class:`DetectionError` with a message for a person.

:func:`to_classifier_input` reproduces the evaluation preprocessing that
EfficientNet-Lite was trained for.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from ..imaging import DECODE_ERRORS
from .conf import setting
from .types import DetectionError

logger = logging.getLogger(__name__)

# The short side load_image keeps by default: enough for every classifier
# variant's centre crop (lite2 needs 292 px) and ample for a face detector.
# The local engine asks for exactly what its variant needs (Variant.min_side).
MIN_SIDE = 320

DEFAULT_MAX_PIXELS = 50_000_000

# Pillow can read many more formats; each extra parser is attack surface for
# uploads, so only the ones cameras and browsers produce are opened. (MPO,
# the multi-picture JPEG of many phones, is read by the JPEG opener; HEIF
# only where the optional pillow-heif plugin is registered.)
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF", "HEIF")


def readable_formats() -> tuple[str, ...]:
    """The FORMATS this Pillow installation can open (plugins may register late)."""
    Image.init()
    return tuple(name for name in FORMATS if name in Image.OPEN)


_DECODE_ERRORS: tuple[type[BaseException], ...] = (*DECODE_ERRORS, Image.DecompressionBombError)

# EfficientNet-Lite was trained on (x - 127) / 128 (MEAN_RGB and STDDEV_RGB in
# the official efficientnet_lite_builder.py), not on ImageNet mean/std.
_MEAN = 127.0
_STD = 128.0


def load_image(
    data: bytes, *, min_side: int = MIN_SIDE, max_pixels: int | None = None
) -> Image.Image:
    """Decode ``data`` into an upright RGB image with short side >= ``min_side``.

    The result is smaller than the original only by whole-factor reduction
    (JPEG draft decoding or :meth:`Image.reduce`), never below ``min_side``
    unless the original itself is smaller.

    Raises :class:`DetectionError` (permanent) for empty, unreadable,
    damaged or oversized files.
    """
    if not data:
        raise DetectionError("The file is empty.")
    img = _open(data)
    _check_pixels(img, max_pixels if max_pixels is not None else _max_pixels_setting())
    if img.format in ("JPEG", "MPO"):
        img.draft("RGB", (min_side, min_side))
    _decode(img)
    _orient(img)
    return _reduce(_to_rgb(img), min_side)


def to_classifier_input(img: Image.Image, size: int, crop_fraction: float = 0.875) -> np.ndarray:
    """The (1, 3, size, size) float32 NCHW tensor EfficientNet-Lite expects.

    As in the reference evaluation: take the centred square that is
    ``crop_fraction`` of the short side (integer pixels, odd remainders
    rounded as TensorFlow does), resize it bicubically to ``size``, then
    scale to (x - 127) / 128. Pillow's bicubic filter antialiases when it
    shrinks, so large photos look to the network like the ~400 px ImageNet
    pictures it learned from.
    """
    width, height = img.size
    side = max(1, int(crop_fraction * min(width, height)))
    left = (width - side + 1) // 2
    top = (height - side + 1) // 2
    # Crop first, then resize: resize(box=...) would let the filter read
    # pixels outside the square and so differ from the reference at its edges.
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    square = rgb.crop((left, top, left + side, top + side))
    crop = square.resize((size, size), Image.Resampling.BICUBIC)
    pixels = np.asarray(crop, dtype=np.float32)
    pixels -= _MEAN
    pixels /= _STD
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[np.newaxis])


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=readable_formats())
    except Image.UnidentifiedImageError:
        names = ", ".join(readable_formats())
        raise DetectionError(f"This file is not an image in a format we read ({names}).") from None
    except Image.DecompressionBombError:
        raise _too_large() from None
    except _DECODE_ERRORS as exc:
        raise DetectionError(f"This image file is damaged and cannot be read ({exc}).") from None


def _check_pixels(img: Image.Image, max_pixels: int) -> None:
    width, height = img.size
    if width <= 0 or height <= 0:
        raise DetectionError("This image file is damaged: it claims to have no pixels.")
    if width * height > max_pixels:
        raise _too_large(width, height, max_pixels)


def _too_large(width: int = 0, height: int = 0, max_pixels: int | None = None) -> DetectionError:
    limit = max_pixels or _max_pixels_setting()
    size = f" ({width}x{height} pixels)" if width else ""
    return DetectionError(
        f"This image is too large to process{size}; the limit is {limit / 1e6:.0f} megapixels."
    )


def _decode(img: Image.Image) -> None:
    try:
        img.load()
    except Image.DecompressionBombError:
        raise _too_large(*img.size) from None
    except _DECODE_ERRORS as exc:
        if "truncated" in str(exc) or isinstance(exc, EOFError):
            raise DetectionError(
                "This image file is incomplete: it ends before the picture does "
                "(an interrupted upload or copy?)."
            ) from None
        raise DetectionError(f"This image file is damaged and cannot be read ({exc}).") from None


def _reduce(img: Image.Image, min_side: int) -> Image.Image:
    # Formats without draft decoding (PNG, WebP...) arrive at full size; a
    # whole-factor box reduction bounds the work of every later resize.
    factor = min(img.size) // min_side
    return img.reduce(factor) if factor >= 2 else img


def _orient(img: Image.Image) -> None:
    """Turn the pixels upright as the EXIF orientation tag says, in place."""
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except _DECODE_ERRORS as exc:
        # A broken EXIF block should not cost the person their labels; the
        # picture itself decoded fine, so classify it as stored.
        logger.info("Ignoring unreadable EXIF orientation: %s", exc)


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        # Transparent pixels hold arbitrary colours; show them on white, as
        # a browser would, instead of letting convert() expose them.
        rgba = img.convert("RGBA")
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        return _wide_grey_to_rgb(img)
    return img.convert("RGB")


def _wide_grey_to_rgb(img: Image.Image) -> Image.Image:
    # convert("RGB") clips 16-bit grey at 255 (a white picture); scale instead.
    values: Any = np.asarray(img, dtype=np.float32)
    top = 65535.0 if img.mode != "F" else max(float(values.max()), 1.0)
    grey = np.clip(values * (255.0 / top), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def _max_pixels_setting() -> int:
    return int(setting("FINDLABELS_MAX_PIXELS", DEFAULT_MAX_PIXELS))


@dataclass(frozen=True)
class Letterbox:
    """Where a photo, scaled to fit, sits inside a square model input, in input pixels."""

    left: int
    top: int
    width: int
    height: int
