"""gunicorn's settings for Find the Labels in production (findlabels.service).

Every number can be overridden from the environment (GUNICORN_*), which
/etc/findlabels/env and env.local feed to the service.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger("gunicorn.error")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise SystemExit(f"{name} must be at least 1, not {value}")
    return value


def _cores() -> int:
    # The cores this process may run on (a cgroup or taskset can limit them),
    # not every core of the machine.
    return len(os.sched_getaffinity(0))


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Processes: one per core plus one. The CPU-heavy parts of a request (decoding
# a 12 MP photo, the thumbnail, the on-box model's inference, which already
# uses several threads) each keep a core busy, so more processes than cores
# would only queue for the CPU while costing ~150 MB of memory each; the extra
# one covers a worker that is restarting. Capped at 8 so a large instance
# does not run out of memory before it runs out of CPU.
workers = _env_int("GUNICORN_WORKERS", min(_cores() + 1, 8))

# Threads: the long waits are on the network, not the CPU (Rekognition,
# S3 uploads of the originals, PostgreSQL), and a waiting thread releases the
# GIL, so a few threads per process keep the cores busy without more memory.
worker_class = "gthread"
threads = _env_int("GUNICORN_THREADS", 4)

# A Detect waits synchronously for Rekognition: a 5 s connect plus a 30 s read
# timeout (AWS_CONNECT_TIMEOUT, AWS_READ_TIMEOUT), up to 3 attempts with
# backoff (AWS_MAX_ATTEMPTS), is about 110 s at worst. 120 s lets that end
# with the app's own message; nginx and the load balancer wait 150 s.
timeout = _env_int("GUNICORN_TIMEOUT", 120)
graceful_timeout = 30
# nginx opens a new connection per request; keep-alive only helps a client
# that talks to gunicorn directly.
keepalive = 5

# Load Django once in the master: workers start fast and share its memory
# pages (copy-on-write). Only import-time state is shared, though: see
# post_fork and post_worker_init for what each worker must make for itself.
preload_app = True

# A worker is replaced after this many requests, which bounds slow growth
# (fragmentation from decoding large images); the jitter keeps them from
# all restarting at once.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = 100

# Heartbeat files in memory, not on the disk, so a slow disk never makes a
# healthy worker look hung: systemd's RuntimeDirectory (/run/findlabels, a
# tmpfs) when the unit provides one.
_runtime_directory = os.environ.get("RUNTIME_DIRECTORY")
worker_tmp_dir = _runtime_directory or None
# gunicorn >= 25's control socket (for `gunicornc`) goes there too rather than
# into the service user's home. Older versions ignore the unknown name.
if _runtime_directory:
    control_socket = os.path.join(_runtime_directory, "gunicorn.ctl")  # noqa: PTH118

# Logs to stdout/stderr, which systemd sends to the journal.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Combined log format plus the time taken, in milliseconds.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
proc_name = "findlabels"


def pre_fork(server: Any, worker: Any) -> None:
    """Let no database connection of the master leak into a worker.

    The master should not have opened one, but if an import ever does, two
    processes sharing one socket corrupt each other's queries.
    """
    from django.db import connections

    connections.close_all()


def post_fork(server: Any, worker: Any) -> None:
    """Drop the boto3 clients a worker must not inherit from the master.

    Their connection pools hold sockets, which two processes cannot share.
    (The master builds none today; this keeps it true if an import ever does.)
    """
    from findlabels import aws

    aws.client.cache_clear()


def post_worker_init(worker: Any) -> None:
    """Warm the label engine before the worker takes its first request.

    Loading the on-box models takes a moment; done here, the first person to
    press Detect does not wait for it. It happens in each worker, after the
    fork, and not once in the master: an ONNX Runtime session's thread pool
    does not survive fork() (microsoft/onnxruntime#9800: an inherited session
    runs on one core or hangs), so each worker holds its own copy of the
    weights (~20 MB for EfficientNet-Lite0). An engine without ``prepare``
    (Rekognition) is simply built.
    """
    from gallery.detection import DetectionError, get_detector

    try:
        detector = get_detector()
        prepare = getattr(detector, "prepare", None)
        if callable(prepare):
            prepare()
        log.info("label engine %s ready in worker %s", detector.name, worker.pid)
    except DetectionError as error:
        # Detection is one feature; the gallery works without it, and the
        # person sees this same message when they press Detect.
        log.warning("label engine not ready in worker %s: %s", worker.pid, error)
    _warm_storage(worker)


def _warm_storage(worker: Any) -> None:
    """Build the S3 client and presigning state (~0.25 s) before the first gallery page."""
    from django.conf import settings
    from django.core.files.storage import default_storage

    if settings.FINDLABELS_STORAGE != "s3":
        return
    try:
        default_storage.url("warm-up")  # signs locally; no request is sent
    except Exception as error:  # a missing credential shows on first use instead
        log.warning("S3 storage not warmed in worker %s: %s", worker.pid, error)
