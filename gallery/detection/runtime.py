"""How every on-box model gets its ONNX Runtime session.

The local engine runs two models back to back (classifier, then faces). By
default each session keeps its own pool of worker threads that spin-wait
for more work after every run. On a two-core machine one model's spinning
threads then steal the cores the next model (or the next JPEG decode)
needs: measured here, a detection took 1.5-4x the sum of its parts. With
spinning off, each run keeps its solo speed, and the cores go back to the
web server between photos.
"""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

# ONNX Runtime's errors for a model file it cannot load; they derive from
# nothing more specific than Exception.
LOAD_ERRORS: tuple[type[Exception], ...] = (
    ort_errors.Fail,
    ort_errors.InvalidProtobuf,
    ort_errors.InvalidGraph,
    ort_errors.NoSuchFile,
)


def new_session(path: Path, *, threads: int | None = None) -> ort.InferenceSession:
    """A CPU session for one model file; raises one of LOAD_ERRORS if unloadable."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or default_threads()
    # One image at a time through a straight chain of layers: a second pool
    # for parallel branches would only compete for the same cores.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def default_threads() -> int:
    """Every core this process may use, up to 4.

    A web worker serves one photo at a time; past four threads the hand-off
    between them costs more than the last few convolutions gain.
    """
    return max(1, min(4, len(os.sched_getaffinity(0))))
