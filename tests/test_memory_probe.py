"""The memory probe runs a configuration in a fresh process and reports its measurements."""

from __future__ import annotations

import pytest

from helpers.memory_probe import ProbeConfig, measure, run_probe

TINY = {"size": 16, "filters": 4, "blocks": 1, "steps": 1}


def test_probe_in_subprocess_reports_memory_and_time():
    out = measure(ProbeConfig(batch=8, accumulation=2, recompute=True, **TINY))
    assert out["label"] == "batch 8, 16px, 2 conv layers, 2x4 accumulated, recompute"
    assert out["step_extra_mib"] >= 0 and out["seconds_per_step"] > 0


def test_batch_must_split_into_micro_batches():
    with pytest.raises(ValueError, match="divisible"):
        run_probe(ProbeConfig(batch=6, accumulation=4, **TINY))


def test_failing_probe_raises_with_its_error():
    with pytest.raises(RuntimeError, match="divisible"):
        measure(ProbeConfig(batch=6, accumulation=4, **TINY))
