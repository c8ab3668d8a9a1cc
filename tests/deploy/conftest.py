from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

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


@pytest.fixture
def aws_credentials(monkeypatch: Any) -> None:
    """Fake credentials, so nothing can ever reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
