"""deploy/*.service and *.timer: systemd accepts them, and the app's is confined.

systemd-analyze checks that every command exists; the programs live under
/opt on an instance, so the test points those paths at stand-in scripts.
Without systemd-analyze these tests fail (`make test` installs it as root).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from .conftest import DEPLOY, require

UNITS = sorted(p.name for p in DEPLOY.iterdir() if p.suffix in (".service", ".timer"))


def systemd_analyze() -> str:
    """systemd-analyze, or a failure (never a skip): unverified units are not tested units."""
    path = require("systemd-analyze")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    if version.returncode != 0:
        pytest.fail(f"systemd-analyze does not run here: {version.stderr.strip()}")
    return path


def unit_with_stand_ins(name: str, folder: Path) -> Path:
    """Copy a unit into folder, its /opt programs replaced by empty scripts there."""
    text = (DEPLOY / name).read_text()
    for program in sorted(set(re.findall(r"/opt/\S+/(?:bin/\w+|deploy/[\w.]+)", text))):
        stand_in = folder / program.lstrip("/")
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.write_text("#!/bin/sh\n")
        stand_in.chmod(0o755)
        text = text.replace(program, str(stand_in))
    unit = folder / name
    unit.write_text(text)
    return unit


def test_every_unit_is_installed_by_bootstrap() -> None:
    script = (DEPLOY / "bootstrap.sh").read_text()
    assert UNITS
    for name in UNITS:
        assert f"install_unit {name}" in script


@pytest.mark.parametrize("name", UNITS)
def test_systemd_accepts_the_unit(tmp_path: Path, name: str) -> None:
    analyze = systemd_analyze()
    for other in UNITS:  # a timer needs its service beside it
        unit_with_stand_ins(other, tmp_path)
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / name)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # also no "Unknown key name" warnings


def test_the_app_service_is_confined(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    unit = unit_with_stand_ins("findlabels.service", tmp_path)
    text = unit.read_text()
    for line in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/findlabels",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "CapabilityBoundingSet=\n",
        "User=findlabels",
        "EnvironmentFile=/etc/findlabels/env",
        "Restart=on-failure",
    ):
        assert line in text
    # Left out on purpose (ONNX Runtime and numpy need them); see the unit's comment.
    assert "\nMemoryDenyWriteExecute=" not in text
    # systemd's own score: 0 is a locked box, 10 an unconfined root service.
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=25", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert score, result.stdout + result.stderr
    assert result.returncode == 0, f"exposure {score.group(1)} is above 2.5"


def test_media_is_swept_daily_through_manage_sh() -> None:
    service = (DEPLOY / "findlabels-sweep-media.service").read_text()
    assert "ExecStart=/opt/findlabels/app/deploy/manage.sh sweep_media\n" in service
    timer = (DEPLOY / "findlabels-sweep-media.timer").read_text()
    assert "OnCalendar=daily\n" in timer
    assert "Persistent=true\n" in timer


def test_the_first_certificate_is_retried_until_there_is_one() -> None:
    service = (DEPLOY / "findlabels-certificate.service").read_text()
    assert "ConditionPathExistsGlob=!/etc/letsencrypt/live/*/fullchain.pem" in service
    assert "ExecStart=/opt/findlabels/app/deploy/bootstrap.sh\n" in service
    assert "OnUnitActiveSec=15min" in (DEPLOY / "findlabels-certificate.timer").read_text()
