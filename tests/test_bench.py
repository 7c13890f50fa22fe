"""The benchmark: the time-budget schedule, the tables, and one quick run of every task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from benchmarks.core import BENCH_END, BENCH_START, Target, markdown
from benchmarks.tasks import TARGETS, TASKS
from helpers.training import TimeBudget

ROOT = Path(__file__).resolve().parents[1]


class Slow(keras.callbacks.Callback):
    """Makes every epoch last at least ``seconds`` so the budget arithmetic is predictable."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        time.sleep(max(0.0, self.seconds - (time.perf_counter() - self.t0)))


def _tiny_model(lr: float) -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy")
    return model


def test_time_budget_stops_in_time_and_anneals_by_the_clock():
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.arange(64) % 3
    model = _tiny_model(0.5)
    lrs = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: lrs.append(float(model.optimizer.learning_rate.numpy()))
    )
    budget = TimeBudget(2.0, peak_lr=0.1, safety=1.0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=16, epochs=50, verbose=0, callbacks=[Slow(0.25), budget, record])
    took = time.perf_counter() - start
    assert budget.stopped_by_budget
    assert 5 <= len(lrs) <= 8 and len(budget.epoch_seconds) == len(lrs)
    assert took <= 2.0 + 0.3  # never starts an epoch that would end past the deadline
    assert lrs[0] == pytest.approx(0.1)  # warm-up reaches the peak at the end of epoch 1
    assert lrs[-1] < 0.1 * 0.2  # annealed by the end
    assert all(a >= b - 1e-9 for a, b in zip(lrs, lrs[1:], strict=False))  # decays


def test_time_budget_follows_uneven_epochs():
    """Epochs that slow down after the first ones (a busy machine) still end in time."""
    x = np.zeros((32, 4), "float32")
    y = np.zeros(32, int)
    model = _tiny_model(0.05)
    slow = Slow(0.1)
    speed = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: setattr(slow, "seconds", 0.1 if e < 2 else 0.4)
    )
    budget = TimeBudget(2.0, cosine=False, safety=1.0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=16, epochs=50, verbose=0, callbacks=[slow, speed, budget])
    assert time.perf_counter() - start <= 2.0 + 0.3
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="peak_lr"):
        TimeBudget(10)


def test_targets_are_the_issues_and_judge_time():
    assert TARGETS["gtsrb/cnn"].accuracy == 0.992 and TARGETS["gtsrb/cnn"].max_train_s == 900
    assert TARGETS["ahe/scratch"].accuracy == 0.92 and TARGETS["ahe/scratch"].max_train_s == 1200
    assert TARGETS["cats/pretrained"].accuracy == 0.99
    assert TARGETS["cifar/residual"].accuracy == 0.85
    t = Target("x", 0.9, 60)
    assert t.met(0.95, 59) and not t.met(0.95, 61) and not t.met(0.89, 10)


def test_smoke_quick_run_of_every_task(tmp_path):
    """Smoke test: every task runs end to end in quick mode and writes consistent rows.

    It proves the plumbing (data, models, tables), not the accuracy of anything.
    """
    env = {**os.environ, "CNN_SUITE_QUICK": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["rows"]
    expected = set(TARGETS) | {"pipeline/gtsrb", "pipeline/ahe"}
    assert expected <= set(rows), sorted(expected - set(rows))
    for key, row in rows.items():
        assert row["mode"] == "quick"
        if key.startswith("pipeline/"):
            assert row["pipeline_images_per_second"] > 0 and row["memory_images_per_second"] > 0
            assert row["ratio"] == pytest.approx(
                row["pipeline_images_per_second"] / row["memory_images_per_second"], rel=1e-2
            )
        else:
            assert 0.0 <= row["test_accuracy"] <= 1.0
        if key in TARGETS:
            t = TARGETS[key]
            assert row["target_met"] == t.met(row["test_accuracy"], row.get("train_seconds"))
    table = (tmp_path / "results.md").read_text()
    assert table.strip() == markdown(results).strip()
    assert "| GTSRB |" in table and "| input pipeline |" in table
    assert set(TASKS) == {"gtsrb", "ahe", "cats", "cifar", "pipeline"}


def test_readme_quotes_the_generated_table():
    """Reads committed files only (``benchmarks/results.json``, README): not behaviour coverage."""
    results_file = ROOT / "benchmarks" / "results.json"
    results = json.loads(results_file.read_text())
    assert all(r["mode"] == "full" for r in results["rows"].values())
    readme = (ROOT / "README.md").read_text()
    block = readme.split(BENCH_START, 1)[1].split(BENCH_END, 1)[0]
    assert block.strip() == markdown(results).strip()
    assert (ROOT / "benchmarks" / "results.md").read_text().strip() == markdown(results).strip()
