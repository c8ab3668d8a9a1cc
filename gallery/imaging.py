"""Stateless image helpers for uploads: decode-check, orientation, thumbnails."""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

THUMBNAIL_SIZE = 400
THUMBNAIL_QUALITY = 82

# Pillow format name -> (content type, file extension).
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
# Types every browser shows in an <img>; others are converted to JPEG for display.
BROWSER_TYPES = {"image/jpeg", "image/png", "image/webp"}
try:  # HEIC, when pillow-heif is installed (it is a dependency; still optional to run).
    from pillow_heif import register_heif_opener

    register_heif_opener()
    FORMATS["HEIF"] = ("image/heic", "heic")
except ImportError:
    pass


# What Pillow's parsers and decoders raise on damaged input. Catching these
# (and not Exception) keeps real bugs loud while no bad file can become a 500.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
)


# A decoded 49 MP photo takes 147 MB of RGB; gunicorn's threads would stack
# four of them in one worker. Decodes of images this large take turns, one at a
# time per process; smaller ones (most phone photos, JPEG draft decodes) do not wait.
LARGE_DECODE_PIXELS = 16_000_000
_large_decodes = threading.BoundedSemaphore(1)
# Taking turns is not enough on its own. Pillow keeps pixels in 16 MB blocks,
# which glibc serves from each thread's own heap once its mmap threshold has
# risen to that size (it does, after the first free), and a thread's heap is
# never handed back: four threads kept four decodes, 750 MB, long after them.
# Blocks above glibc's highest threshold (32 MB) are always mapped and unmapped.
PIXEL_BLOCK_BYTES = 64 * 1024 * 1024
PILImage.core.set_block_size(PIXEL_BLOCK_BYTES)


@contextmanager
def decode_slot(width: int, height: int) -> Iterator[None]:
    """Hold the process's one slot for a large decode while the block runs."""
    if width * height < LARGE_DECODE_PIXELS:
        yield
        return
    with _large_decodes:
        yield


class InvalidImage(ValueError):
    """A file that is not an image we accept; the message is for the person."""


@dataclass(frozen=True)
class ProcessedImage:
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str
    thumbnail: bytes


def sha256_of(stream: IO[bytes], chunk_size: int = 1024 * 1024) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(chunk_size):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def process_upload(stream: IO[bytes], *, max_pixels: int) -> ProcessedImage:
    """Decode an uploaded file for real and make its thumbnail.

    One decode serves both purposes: a JPEG is decoded in draft mode at the
    thumbnail's scale, which still reads every byte, so a truncated file fails.
    """
    digest = sha256_of(stream)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(stream) as img:
                kind = FORMATS.get(img.format or "")
                if kind is None:
                    raise InvalidImage(
                        f"{img.format or 'this'} files are not supported; "
                        f"use {', '.join(sorted(FORMATS))}."
                    )
                if img.width * img.height > max_pixels:
                    raise InvalidImage(
                        f"it is {img.width}x{img.height} pixels; the limit is "
                        f"{max_pixels / 1e6:.0f} megapixels."
                    )
                # Inside too: a PNG's EXIF may follow its pixels, so reading it decodes them.
                with decode_slot(img.width, img.height):
                    oriented_size = _oriented_size(img)
                    thumbnail = _thumbnail(img)
    except InvalidImage:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise InvalidImage(
            f"it has too many pixels; the limit is {max_pixels / 1e6:.0f} megapixels."
        ) from None
    except UnidentifiedImageError:
        raise InvalidImage("it is not an image we can read.") from None
    except DECODE_ERRORS as exc:
        raise InvalidImage(f"the image data is damaged ({exc}).") from None
    finally:
        stream.seek(0)
    content_type, extension = kind
    return ProcessedImage(content_type, extension, *oriented_size, digest, thumbnail)


def display_jpeg(stream: IO[bytes], max_side: int = 2560) -> bytes:
    """An oriented JPEG of a stored original, at most ``max_side`` (large photos, HEIC)."""
    with PILImage.open(stream) as img, decode_slot(img.width, img.height):
        img.thumbnail((max_side, max_side), PILImage.Resampling.LANCZOS)
        oriented = ImageOps.exif_transpose(img)  # on the small copy: a quarter of the memory
        if oriented.mode not in ("RGB", "L"):
            oriented = _flatten(oriented)
        out = io.BytesIO()
        oriented.save(out, "JPEG", quality=88)
    return out.getvalue()


def _oriented_size(img: PILImage.Image) -> tuple[int, int]:
    orientation = img.getexif().get(0x0112, 1)
    if orientation in (5, 6, 7, 8):  # rotated a quarter turn
        return img.height, img.width
    return img.width, img.height


def _thumbnail(img: PILImage.Image) -> bytes:
    if img.format == "JPEG":
        img.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    img.load()
    # Shrink first, turn after: exif_transpose copies the whole image, even
    # when there is nothing to turn. The box is square, so turning after fits.
    img.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), PILImage.Resampling.LANCZOS)
    oriented = ImageOps.exif_transpose(img)
    if oriented.mode not in ("RGB", "L"):
        oriented = _flatten(oriented)
    out = io.BytesIO()
    oriented.save(out, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return out.getvalue()


def _flatten(img: PILImage.Image) -> PILImage.Image:
    """Transparent pixels over white, as a photo viewer shows them."""
    rgba = img.convert("RGBA")
    background = PILImage.new("RGB", rgba.size, "white")
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background
