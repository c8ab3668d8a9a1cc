"""deploy/nginx.conf: nginx accepts it, and a running nginx does what it says.

The site file is used as it is, with only the machine's paths, the listening
port and the upstream port moved into the test's folder; a small HTTP server
stands in for gunicorn and records what nginx passes on.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import DEPLOY, require

BUCKET_ORIGIN = "https://findlabels-media.s3.eu-west-1.amazonaws.com"
PHOTO = b"\xff\xd8\xff\xe0 pretend this is a JPEG " * 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def site_config(folder: Path, *, port: int, upstream: int, trusted: str = "10.0.0.0/16") -> Path:
    """deploy/nginx.conf with the machine's paths and ports moved into ``folder``."""
    text = (DEPLOY / "nginx.conf").read_text()
    replacements = {
        "/var/lib/findlabels/": f"{folder}/var/",
        "/etc/nginx/findlabels/instance.conf": f"{folder}/instance.conf",
        "/var/www/acme": f"{folder}/acme",
        "listen 80 default_server;": f"listen 127.0.0.1:{port} default_server;",
        "listen [::]:80 default_server;": "",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
        "10.0.0.0/16": trusted,
    }
    for old, new in replacements.items():
        assert old in text, f"nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    for sub in ("var/static/css", "var/media/originals", "acme/.well-known/acme-challenge"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    # What bootstrap.sh writes for a stack without a certificate.
    (folder / "instance.conf").write_text(f'set $findlabels_media_origins "{BUCKET_ORIGIN}";\n')
    site = folder / "site.conf"
    site.write_text(text)
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
    user = "user root;" if os.geteuid() == 0 else ""  # workers must read the test's folder
    wrapper = folder / "nginx.conf"
    wrapper.write_text(
        f"""
        {user}
        pid {folder}/nginx.pid;
        error_log {folder}/error.log;
        events {{}}
        http {{
            {mime}
            access_log {folder}/access.log;
            client_body_temp_path {folder}/body;
            proxy_temp_path {folder}/proxy;
            fastcgi_temp_path {folder}/fastcgi;
            uwsgi_temp_path {folder}/uwsgi;
            scgi_temp_path {folder}/scgi;
            include {site};
        }}
        """
    )
    return wrapper


def nginx_command(wrapper: Path, *extra: str) -> list[str]:
    folder = wrapper.parent
    return [
        require("nginx"),
        "-c",
        str(wrapper),
        "-p",
        str(folder),
        "-e",
        f"{folder}/error.log",
        *extra,
    ]


def nginx_test(wrapper: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(nginx_command(wrapper, "-t"), capture_output=True, text=True, timeout=30)


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    result = nginx_test(site_config(tmp_path, port=free_port(), upstream=free_port()))
    assert result.returncode == 0, result.stderr


# --- nginx running in front of a stand-in for gunicorn ---------------------


@dataclass
class Upstream:
    """Records the headers of every request nginx passes on."""

    port: int
    seen: list[dict[str, str]] = field(default_factory=list)


def start_upstream() -> tuple[ThreadingHTTPServer, Upstream]:
    upstream = Upstream(port=0)

    class App(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            upstream.seen.append(dict(self.headers.items()))
            if self.path == "/photo":
                # What gallery/media.py answers for local storage with the prefix set.
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Disposition", 'inline; filename="cat.jpg"')
                self.send_header("X-Accel-Redirect", "/protected-media/originals/cat.jpg")
                self.end_headers()
                return
            body = ("<html>" + "a page " * 500 + "</html>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            # Django's own copies, which nginx must replace rather than repeat.
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), App)
    upstream.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, upstream


@dataclass
class Site:
    url: str
    port: int
    folder: Path
    upstream: Upstream

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)


def running_site(folder: Path, *, trusted: str = "10.0.0.0/16") -> Iterator[Site]:
    server, upstream = start_upstream()
    port = free_port()
    wrapper = site_config(folder, port=port, upstream=upstream.port, trusted=trusted)
    (folder / "var/static/css/app.css").write_text("body { color: black; }\n" * 200)
    (folder / "var/static/css/app.0123456789ab.css").write_text("main {}\n")
    (folder / "var/media/originals/cat.jpg").write_bytes(PHOTO)
    (folder / "acme/.well-known/acme-challenge/token123").write_text("token123.key")
    nginx = subprocess.Popen(
        nginx_command(wrapper, "-g", "daemon off;"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if nginx.poll() is not None or time.monotonic() > deadline:
                    _, errors = nginx.communicate(timeout=5)
                    pytest.fail(f"nginx did not start: {errors.decode()}")
                time.sleep(0.05)
        yield Site(f"http://127.0.0.1:{port}", port, folder, upstream)
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        server.shutdown()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from running_site(tmp_path)


def test_every_answer_has_one_set_of_security_headers(site: Site) -> None:
    for path in ("/", "/static/css/app.css", "/nothing-here"):
        response = site.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"  # not "DENY, DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        policy = response.headers["Content-Security-Policy"]
        assert f"img-src 'self' data: blob: {BUCKET_ORIGIN};" in policy
        assert "script-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy
        assert "Strict-Transport-Security" not in response.headers  # the app's business


def test_static_files_are_cached_and_compressed(site: Site) -> None:
    response = site.get("/static/css/app.css", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "max-age=3600"
    assert response.headers["Content-Encoding"] == "gzip"
    hashed = site.get("/static/css/app.0123456789ab.css")
    assert hashed.text == "main {}\n"
    assert hashed.headers["Cache-Control"] == "max-age=315360000"


def test_pages_from_the_app_are_not_compressed(site: Site) -> None:
    # Pages carry the CSRF token and the person's data: no compression (BREACH).
    response = site.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers


def test_media_is_sent_by_nginx_only_after_the_app_says_yes(site: Site) -> None:
    response = site.get("/photo")
    assert response.status_code == 200
    assert response.content == PHOTO
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Disposition"] == 'inline; filename="cat.jpg"'
    # The internal location cannot be asked for directly.
    assert site.get("/protected-media/originals/cat.jpg").status_code == 404


def test_forwarded_headers_from_outside_the_vpc_are_not_believed(site: Site) -> None:
    forged = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "198.51.100.7",
        "X-Forwarded-Host": "evil.example",
    }
    site.get("/", headers=forged)
    seen = site.upstream.seen[-1]
    assert seen["X-Forwarded-Proto"] == "http"
    assert seen["X-Forwarded-For"] == "127.0.0.1"
    assert seen["X-Real-IP"] == "127.0.0.1"
    # $host: the name without the port, also written over any X-Forwarded-Host
    # a client sent (Django trusts that header behind the proxy).
    assert seen["Host"] == "127.0.0.1"
    assert seen["X-Forwarded-Host"] == "127.0.0.1"


def test_forwarded_headers_from_the_load_balancer_are_believed(tmp_path: Path) -> None:
    # The same file, with the test's own address standing for the VPC.
    for site in running_site(tmp_path, trusted="127.0.0.0/8"):
        site.get("/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"})
        seen = site.upstream.seen[-1]
        assert seen["X-Forwarded-Proto"] == "https"
        assert seen["X-Forwarded-For"] == "198.51.100.7"


def test_an_upload_over_200_mb_is_refused_before_it_is_read(site: Site) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    connection.putrequest("POST", "/upload/")
    connection.putheader("Content-Length", str(201 * 1024 * 1024))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()


def test_lets_encrypt_challenges_are_answered_by_nginx(site: Site) -> None:
    response = site.get("/.well-known/acme-challenge/token123")
    assert response.status_code == 200
    assert response.text == "token123.key"
    assert site.upstream.seen == []


def test_the_upstream_timeout_outlasts_gunicorns() -> None:
    text = (DEPLOY / "nginx.conf").read_text()
    gunicorn = (DEPLOY / "gunicorn.conf.py").read_text()
    assert 'timeout = _env_int("GUNICORN_TIMEOUT", 120)' in gunicorn
    assert "proxy_read_timeout 150s;" in text


def test_nginx_keeps_idle_connections_longer_than_the_load_balancer() -> None:
    """Else the load balancer reuses a connection nginx just closed: a sporadic 502."""
    from .template import load

    attributes = load()["Resources"]["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    idle = {a["Key"]: a["Value"] for a in attributes}["idle_timeout.timeout_seconds"]
    keepalive = re.search(
        r"^\s*keepalive_timeout (\d+)s;", (DEPLOY / "nginx.conf").read_text(), re.M
    )
    assert keepalive, "nginx.conf sets no keepalive_timeout (nginx's default is 75 s)"
    assert int(keepalive.group(1)) > int(idle)
