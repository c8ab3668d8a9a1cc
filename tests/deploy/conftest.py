from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

# The Debian packages `make test` installs (as root) for these tests.
DEBIAN_PACKAGE = {"shellcheck": "shellcheck", "nginx": "nginx", "systemd-analyze": "systemd"}


def require(tool: str) -> str:
    """The tool's path; a clear failure (not a skip) when it is missing."""
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if path is None:
        package = DEBIAN_PACKAGE.get(tool, tool)
        pytest.fail(
            f"{tool} is not installed: `apt-get install {package}` "
            f"(`make test` does it when run as root)."
        )
    return path
