"""deploy/gunicorn.conf.py: its numbers, and gunicorn serving the app with it."""

from __future__ import annotations

import os
import runpy
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import DEPLOY

REPO = DEPLOY.parent
CONFIG = DEPLOY / "gunicorn.conf.py"


def settings_with(monkeypatch: Any, **environment: str) -> dict[str, Any]:
    for name in [n for n in os.environ if n.startswith("GUNICORN_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_the_defaults_fit_a_synchronous_rekognition_call(monkeypatch: Any) -> None:
    config = settings_with(monkeypatch)
    cores = len(os.sched_getaffinity(0))
    assert config["workers"] == min(cores + 1, 8)
    assert config["worker_class"] == "gthread"
    assert config["threads"] == 4
    # 3 attempts x (5 s connect + 30 s read) plus backoff fits; nginx waits longer.
    assert 3 * (5 + 30) < config["timeout"] == 120 < 150
    assert config["preload_app"] is True
    assert config["accesslog"] == "-"
    assert config["bind"] == "127.0.0.1:8000"
    assert config["worker_tmp_dir"] is None
    assert "control_socket" not in config


def test_the_environment_overrides_the_numbers(monkeypatch: Any) -> None:
    config = settings_with(
        monkeypatch,
        GUNICORN_BIND="unix:/run/findlabels/gunicorn.sock",
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="8",
        GUNICORN_TIMEOUT="60",
        RUNTIME_DIRECTORY="/run/findlabels",
    )
    assert (config["bind"], config["workers"], config["threads"], config["timeout"]) == (
        "unix:/run/findlabels/gunicorn.sock",
        3,
        8,
        60,
    )
    assert config["worker_tmp_dir"] == "/run/findlabels"
    assert config["control_socket"] == "/run/findlabels/gunicorn.ctl"


def test_a_bad_number_stops_it_with_the_variables_name(monkeypatch: Any) -> None:
    with pytest.raises(SystemExit, match="GUNICORN_WORKERS must be a whole number"):
        settings_with(monkeypatch, GUNICORN_WORKERS="many")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_gunicorn_serves_the_app_and_warms_each_worker(tmp_path: Path) -> None:
    port = free_port()
    runtime = tmp_path / "run"
    runtime.mkdir()
    models = REPO / "var" / "models"
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SECRET_KEY": "gunicorn-test-secret-key",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "FINDLABELS_VAR_DIR": str(tmp_path / "var"),
        # The models `make test` prepared; without them the warm-up says why.
        "FINDLABELS_MODEL_CACHE_DIR": str(models),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "RUNTIME_DIRECTORY": str(runtime),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log_file = tmp_path / "gunicorn.log"
    with log_file.open("w") as log:
        server = subprocess.Popen(
            [str(gunicorn), "-c", str(CONFIG), "findlabels.wsgi"],
            cwd=REPO,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start:\n{log_file.read_text()}")
                time.sleep(0.2)
        assert response.status_code == 200, response.text
        assert response.json() == {"database": "ok", "storage": "ok"}
        # Each worker warms the engine itself, after the fork, before serving.
        while log_file.read_text().count("label engine") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        # gunicorn >= 25 puts its control socket in the runtime directory.
        assert (runtime / "gunicorn.ctl").exists() or "Control socket" not in log_file.read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
    output = log_file.read_text()
    warmed = [line for line in output.splitlines() if "label engine" in line]
    assert len(warmed) == 2, output
    if (models / "blazeface-full-range").exists():
        assert all("ready in worker" in line for line in warmed), output
    assert "GET /healthz HTTP/1.1" in output and "ms" in output  # the access log, timed
    assert server.returncode == 0, output
