"""One Content-Security-Policy: the app's, and nginx's copy of it for what nginx serves itself."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from csp.utils import build_policy

from findlabels.aws import bucket_origins
from findlabels.policy import content_security_policy

from .conftest import DEPLOY
from .test_nginx import BUCKET_ORIGIN, free_port, nginx_command, site_config

BUCKET, REGION = "findlabels-media", "eu-west-1"
APP_POLICY = "default-src 'self'; img-src 'self'; the app's own"


def directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in parts}


def nginx_copy() -> str:
    """The policy nginx sends with what it serves itself, as deploy/nginx.conf has it."""
    text = (DEPLOY / "nginx.conf").read_text()
    found = re.search(r'\$findlabels_csp \{\s*"~\^\\\|\." "";\s*default "([^"]+)";', text)
    assert found, "nginx.conf no longer maps a missing upstream policy to its copy"
    return found.group(1)


def bootstrap_origins(bucket: str, region: str) -> str:
    """$findlabels_media_origins as deploy/bootstrap.sh writes it into instance.conf."""
    text = (DEPLOY / "bootstrap.sh").read_text()
    found = re.search(r'bucket_origins="([^"]+)"', text)
    assert found, "bootstrap.sh no longer sets bucket_origins"
    return found.group(1).replace("$AWS_STORAGE_BUCKET_NAME", bucket).replace("$AWS_REGION", region)


def test_nginx_sends_a_copy_of_the_apps_policy() -> None:
    app = build_policy(
        config=content_security_policy(bucket_origins(BUCKET, REGION, None))["DIRECTIVES"]
    )
    copy = nginx_copy().replace("$findlabels_media_origins", bootstrap_origins(BUCKET, REGION))
    assert directives(copy) == directives(app)


def test_the_app_sends_its_policy_on_every_page(client: Any, settings: Any) -> None:
    for path in ("/accounts/login/", "/", "/healthz", "/no-such-page/"):
        policy = directives(client.get(path)["Content-Security-Policy"])
        assert policy["script-src"] == policy["style-src"] == ["'self'"]  # no inline code
        assert policy["img-src"] == ["'self'"]  # no bucket in local mode
        assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_in_s3_mode_images_may_come_from_where_presigned_urls_point(s3_settings: Any) -> None:
    from django.core.files.storage import default_storage

    url = default_storage.url("images/1/abc/thumbnail.jpg")
    origin = "/".join(url.split("/")[:3])
    policy = build_policy(
        config=content_security_policy(bucket_origins(BUCKET, REGION, None))["DIRECTIVES"]
    )
    assert origin in directives(policy)["img-src"]


@pytest.fixture
def s3_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from findlabels import aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": aws.s3_storage(BUCKET, REGION, None, 300, aws.botocore_config(5, 30, 3)),
    }


# --- a running nginx in front of a stand-in app that sends its own policy ------


def stand_in_app() -> ThreadingHTTPServer:
    class App(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            if self.path == "/photo":  # local media: the app checked access, nginx sends it
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("X-Accel-Redirect", "/protected-media/originals/cat.jpg")
            else:
                self.send_header("Content-Type", "text/html; charset=utf-8")
            if self.path != "/without-policy":
                self.send_header("Content-Security-Policy", APP_POLICY)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    app = stand_in_app()
    port = free_port()
    wrapper = site_config(tmp_path, port=port, upstream=app.server_address[1])
    (tmp_path / "var/static/css/app.css").write_text("main {}\n")
    (tmp_path / "var/media/originals/cat.jpg").write_bytes(b"\xff\xd8\xff\xd9")
    nginx = subprocess.Popen(
        nginx_command(wrapper, "-g", "daemon off;"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if nginx.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"nginx did not start: {nginx.communicate(timeout=5)[1].decode()}")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        app.shutdown()


def policies(url: str) -> list[str]:
    response = requests.get(url, timeout=10)
    return [
        value
        for name, value in response.raw.headers.items()
        if name.lower() == "content-security-policy"
    ]


def test_nginx_passes_the_apps_policy_through_once(site: str) -> None:
    assert policies(f"{site}/") == [APP_POLICY]


def test_what_nginx_serves_itself_carries_the_copy(site: str) -> None:
    copy = nginx_copy().replace("$findlabels_media_origins", BUCKET_ORIGIN)
    for path in ("/static/css/app.css", "/static/missing.css", "/photo", "/without-policy"):
        assert policies(site + path) == [copy], path
