"""deploy/requirements.lock (`make lock`): every dependency, pinned, with hashes.

bootstrap.sh installs it with --require-hashes, so a package missing from the
lock is a package missing on the instance: this fails until `make lock` runs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import DEPLOY

LOCK = DEPLOY / "requirements.lock"
PYPROJECT = DEPLOY.parent / "pyproject.toml"
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.M)


def locked(text: str) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in PINNED.findall(text)}


def wanted(pyproject: Path) -> list[Requirement]:
    project = tomllib.loads(pyproject.read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def missing_from_lock(lock_text: str, pyproject: Path) -> list[str]:
    pins = locked(lock_text)
    problems = []
    for requirement in wanted(pyproject):
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{requirement.name}=={pins[name]} does not satisfy {requirement}")
    return problems


def test_every_dependency_in_pyproject_is_locked() -> None:
    problems = missing_from_lock(LOCK.read_text(), PYPROJECT)
    assert problems == [], f"run `make lock`: {problems}"


def test_every_pin_carries_a_hash() -> None:
    text = LOCK.read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[-1])
    pins = [entry for entry in entries if PINNED.match(entry)]
    assert len(pins) == len(locked(text)) > 10
    for entry in pins:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_dev_tools_stay_out_of_the_lock() -> None:
    pins = locked(LOCK.read_text())
    assert not {"pytest", "moto", "mypy", "ruff", "pip-tools"} & set(pins)


def test_a_new_dependency_without_a_new_lock_is_caught(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        PYPROJECT.read_text().replace(
            "dependencies = [\n", 'dependencies = [\n    "some-new-package>=1.0",\n', 1
        )
    )
    assert missing_from_lock(LOCK.read_text(), pyproject) == ["some-new-package is not in the lock"]
    # A pin outside the range pyproject asks for is caught too.
    pyproject.write_text(PYPROJECT.read_text().replace('"django>=5.2,<5.3"', '"django>=6"', 1))
    problems = missing_from_lock(LOCK.read_text(), pyproject)
    assert len(problems) == 1 and problems[0].startswith("django==5.2.")
