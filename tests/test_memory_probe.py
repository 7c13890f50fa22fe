"""The memory probe runs a configuration in a fresh process and reports its measurements."""

from __future__ import annotations

import pytest
import tensorflow as tf

from helpers.memory_probe import ProbeConfig, measure, run_probe

TINY = {"size": 16, "filters": 4, "blocks": 1, "steps": 1}


def test_probe_in_subprocess_reports_memory_and_time():
    cfg = ProbeConfig(batch=16, size=64, filters=16, blocks=2, steps=1)
    out = measure(cfg)
    assert out["label"] == "batch 16, 64px, 4 conv layers"
    # one conv output alone is 16 x 64 x 64 x 16 float32 = 4 MiB, and training keeps four
    activation_mib = cfg.batch * cfg.size**2 * cfg.filters * 4 / 2**20
    assert out["step_extra_mib"] > activation_mib and out["seconds_per_step"] > 0
    assert {k: out[k] for k in ("batch", "size", "recompute")} == {
        "batch": 16, "size": 64, "recompute": False
    }


@pytest.mark.parametrize("recompute", [True, False])
def test_recompute_wraps_every_block_only_when_asked(monkeypatch, recompute):
    wrapped = []
    original = tf.recompute_grad

    def spy(fn):
        wrapped.append(fn)
        return original(fn)

    monkeypatch.setattr(tf, "recompute_grad", spy)
    out = run_probe(ProbeConfig(batch=4, accumulation=2, recompute=recompute, **{**TINY,
                                                                                 "blocks": 2}))
    assert bool(wrapped) == recompute and len({id(f) for f in wrapped}) == (2 if recompute else 0)
    assert out["label"].endswith("2x2 accumulated" + (", recompute" if recompute else ""))


def test_batch_must_split_into_micro_batches():
    with pytest.raises(ValueError, match="divisible"):
        run_probe(ProbeConfig(batch=6, accumulation=4, **TINY))


def test_failing_probe_raises_with_its_error():
    with pytest.raises(RuntimeError, match="divisible"):
        measure(ProbeConfig(batch=6, accumulation=4, **TINY))
