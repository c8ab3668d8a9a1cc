"""ONNX Runtime sessions for the on-box models."""

from __future__ import annotations

from pathlib import Path

from gallery.detection.runtime import default_threads, new_session


def test_sessions_do_not_spin_waiting_for_work_between_runs(classifier_cache: Path) -> None:
    model = next(classifier_cache.glob("*.onnx"))

    options = new_session(model, threads=2).get_session_options()

    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2
    assert options.inter_op_num_threads == 1


def test_default_threads_uses_the_cores_but_no_more_than_four() -> None:
    assert 1 <= default_threads() <= 4
