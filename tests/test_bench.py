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

from benchmarks.core import BENCH_END, BENCH_START, Target, markdown, merge_results
from benchmarks.tasks import QUICK_ABLATION, TARGETS, TASKS
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


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _drive(budget: TimeBudget, clock: FakeClock, epoch_s, steps: int = 4, epochs: int = 50):
    """Run the callback as ``fit`` would, each epoch taking ``epoch_s(epoch)`` fake seconds.

    Returns the learning rate set before every step, one list per epoch run.
    """
    model = _tiny_model(0.5)
    budget.set_model(model)
    budget.set_params({"steps": steps, "epochs": epochs, "verbose": 0})
    budget.on_train_begin()
    rates = []
    for epoch in range(epochs):
        budget.on_epoch_begin(epoch)
        rates.append([])
        for step in range(steps):
            budget.on_train_batch_begin(step)
            rates[-1].append(float(model.optimizer.learning_rate.numpy()))
            clock.now += epoch_s(epoch) / steps
        budget.on_epoch_end(epoch)
        if model.stop_training:
            break
    return rates


def test_time_budget_schedule_and_stop_epoch_by_a_fake_clock():
    clock = FakeClock()
    budget = TimeBudget(10.0, peak_lr=0.1, min_lr=0.01, safety=1.0, clock=clock)
    rates = _drive(budget, clock, lambda e: 1.0)
    # warm-up: linear to the peak over the first epoch's steps
    np.testing.assert_allclose(rates[0], [0.025, 0.05, 0.075, 0.1], rtol=1e-6)
    # then a half cosine by elapsed time from the end of epoch 1 to the deadline (t = 10 s)
    for epoch, epoch_rates in enumerate(rates[1:], start=1):
        t = epoch + np.arange(4) / 4  # seconds since the start at each step
        want = 0.01 + 0.045 * (1 + np.cos(np.pi * (t - 1.0) / 9.0))
        np.testing.assert_allclose(epoch_rates, want, rtol=1e-5)
    # look-ahead: epoch 10 ends exactly at the deadline; an 11th would end past it
    assert len(rates) == 10 and budget.stopped_by_budget and budget.epoch_seconds == [1.0] * 10
    assert clock.now - 100.0 == pytest.approx(10.0)


def test_time_budget_looks_ahead_by_the_slowest_recent_epoch():
    """Epochs slow down from 1 s to 3 s: training stops when one more slow epoch would not fit."""
    clock = FakeClock()
    budget = TimeBudget(12.0, cosine=False, safety=1.0, clock=clock)
    rates = _drive(budget, clock, lambda e: 1.0 if e < 3 else 3.0)
    # ends at 1+1+1+3+3+3 = 12 s; stopping only after passing the deadline would run to 15 s
    assert len(rates) == 6 and budget.stopped_by_budget
    assert clock.now - 100.0 == pytest.approx(12.0)
    assert all(r == pytest.approx(0.5) for epoch in rates for r in epoch)  # rate left alone
    clock = FakeClock()
    hiccup = TimeBudget(9.0, cosine=False, safety=1.0, clock=clock)
    # epoch 3 takes 3 s: after epoch 5 (at 7 s) the slowest of the last three is still 3 s
    assert len(_drive(hiccup, clock, lambda e: 3.0 if e == 2 else 1.0)) == 5
    clock = FakeClock()
    safe = TimeBudget(10.0, cosine=False, safety=0.8, clock=clock)  # deadline at 8 s
    assert len(_drive(safe, clock, lambda e: 1.0)) == 8
    clock = FakeClock()
    roomy = TimeBudget(100.0, cosine=False, clock=clock)
    assert len(_drive(roomy, clock, lambda e: 1.0, epochs=5)) == 5 and not roomy.stopped_by_budget
    with pytest.raises(ValueError, match="peak_lr"):
        TimeBudget(10)


def test_time_budget_by_epochs_schedules_by_steps_whatever_the_clock():
    """Fixed epochs: warm-up, then a cosine over the remaining steps; uneven epoch times change
    nothing, training stops after the last epoch (annealed), and the clock only caps."""
    runs = []
    for epoch_s in (lambda e: 1.0, lambda e: 3.0 if e % 2 else 0.5):
        clock = FakeClock()
        budget = TimeBudget(100.0, peak_lr=0.1, min_lr=0.01, safety=1.0, clock=clock, epochs=5)
        runs.append(_drive(budget, clock, epoch_s))
        assert not budget.stopped_by_budget
    assert runs[0] == runs[1] and len(runs[0]) == 5
    np.testing.assert_allclose(runs[0][0], [0.025, 0.05, 0.075, 0.1], rtol=1e-6)
    done = np.arange(1, 17)  # steps after the warm-up epoch, 4 epochs × 4 steps
    want = 0.01 + 0.045 * (1 + np.cos(np.pi * done / 16))
    np.testing.assert_allclose(np.concatenate(runs[0][1:]), want, rtol=1e-5, atol=1e-9)
    assert runs[0][-1][-1] == pytest.approx(0.01)  # annealed at the last step
    clock = FakeClock()  # a machine far slower than planned: the cap stops it, and says so
    capped = TimeBudget(10.0, peak_lr=0.1, safety=1.0, clock=clock, epochs=50)
    assert len(_drive(capped, clock, lambda e: 1.0)) == 10 and capped.stopped_by_budget
    for bad in (0, 2.5, -1):
        with pytest.raises(ValueError, match="epochs"):
            TimeBudget(10, peak_lr=0.1, epochs=bad)


def test_time_budget_smoke_on_the_real_clock():
    """Loose real-time smoke test: a budgeted fit stops on its own, in time, annealed."""
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.arange(64) % 3
    model = _tiny_model(0.5)
    lrs = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: lrs.append(float(model.optimizer.learning_rate.numpy()))
    )
    budget = TimeBudget(1.5, peak_lr=0.1, safety=1.0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=16, epochs=100, verbose=0, callbacks=[Slow(0.2), budget, record])
    took = time.perf_counter() - start
    assert budget.stopped_by_budget and len(lrs) < 100
    assert took <= 1.5 + 1.0  # loose: a busy machine may add a little
    assert lrs[0] == pytest.approx(0.1) and lrs[-1] < lrs[0]


def test_targets_are_the_issues_and_judge_time():
    assert TARGETS["gtsrb/cnn"].accuracy == 0.995 and TARGETS["gtsrb/cnn"].max_train_s == 900
    assert TARGETS["gtsrb/best"].accuracy == 0.997
    assert TARGETS["ahe/scratch"].accuracy == 0.92 and TARGETS["ahe/scratch"].max_train_s == 1200
    assert TARGETS["ahe/best"].accuracy == 0.96
    assert TARGETS["cats_dogs/pretrained"].accuracy == 0.99
    assert TARGETS["cats_dogs/scratch"].accuracy == 0.9
    assert TARGETS["cifar10/airbench"].accuracy == 0.85
    assert TARGETS["cifar10/airbench"].max_train_s == 900
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
    # quick mode trains one dataset's ablation: a reference under the same shorter budget, the
    # first trained ingredient removed, and the test-time ingredient on the reference model
    ref = rows[f"{QUICK_ABLATION}/ablation/reference"]
    for ingredient in ("random erasing", "flip TTA"):
        abl = rows[f"{QUICK_ABLATION}/ablation/{ingredient}"]
        assert ref["ablation_of"] == abl["ablation_of"] == QUICK_ABLATION
        assert ref["ablation_budget_seconds"] == abl["ablation_budget_seconds"]
    for recipe_key in ("gtsrb/cnn", "ahe/scratch", "cats_dogs/scratch"):
        assert f"{recipe_key}/ablation/reference" not in rows
    key = "cats_dogs/pretrained"
    assert rows[f"{key}/ablation/log-ratio feature"]["ablation_of"] == key
    assert rows[f"{key}/ablation/reference"]["test_accuracy"] == rows[key]["test_accuracy"]
    table = (tmp_path / "results.md").read_text()
    assert table.strip() == markdown(results).strip()
    assert "| GTSRB |" in table and "| input pipeline |" in table
    assert set(TASKS) == {"gtsrb", "ahe", "cats_dogs", "cifar10", "pipeline"}


def test_merge_drops_the_old_rows_of_a_dataset_run_again(tmp_path):
    path = tmp_path / "results.json"
    merge_results(path, {"gtsrb/old": {"key": "gtsrb/old"}, "ahe/x": {"key": "ahe/x"}})
    merged = merge_results(path, {"gtsrb/new": {"key": "gtsrb/new"}}, replace=("gtsrb",))
    assert set(merged["rows"]) == {"gtsrb/new", "ahe/x"}
    assert set(json.loads(path.read_text())["rows"]) == {"gtsrb/new", "ahe/x"}
    merge_results(path, {"cats/old": {"key": "cats/old"}})  # the earlier key scheme
    new = {"cats_dogs/new": {"key": "cats_dogs/new"}}
    merged = merge_results(path, new, replace=("cats_dogs",))
    assert set(merged["rows"]) == {"gtsrb/new", "ahe/x", "cats_dogs/new"}


def test_merge_of_one_part_keeps_the_other_parts_rows(tmp_path):
    path = tmp_path / "results.json"
    merge_results(path, {k: {"key": k} for k in ("ahe/scratch", "ahe/scratch/ablation/reference",
                                                  "ahe/scratch/ablation/old")})
    merged = merge_results(path, {"ahe/scratch/ablation/reference": {"key": "new"}},
                           replace=("ahe",), parts=("ablations",))
    assert set(merged["rows"]) == {"ahe/scratch", "ahe/scratch/ablation/reference"}
    merged = merge_results(path, {"ahe/mobilenet": {"key": "ahe/mobilenet"}}, replace=("ahe",),
                           parts=("headline",))
    assert set(merged["rows"]) == {"ahe/mobilenet", "ahe/scratch/ablation/reference"}


def test_table_lists_each_datasets_headline_rows_then_its_best_row_then_its_ablations():
    def row(key):
        return {"key": key, "dataset": key.split("/")[0], "model": key, "data": "d"}

    keys = ["ahe/scratch/ablation/reference", "gtsrb/best", "ahe/scratch", "gtsrb/cnn/ablation/x",
            "gtsrb/cnn", "ahe/best", "gtsrb/committee"]
    table = markdown({"rows": {k: row(k) for k in keys}})
    shown = [line.split(" | ")[1] for line in table.splitlines()
             if line.startswith("| gtsrb") or line.startswith("| ahe")]
    assert shown == ["gtsrb/cnn", "gtsrb/committee", "gtsrb/best", "gtsrb/cnn/ablation/x",
                     "ahe/scratch", "ahe/best", "ahe/scratch/ablation/reference"]


def test_readme_quotes_the_generated_table():
    """Reads committed files only (``benchmarks/results.json``, README): not behaviour coverage."""
    results_file = ROOT / "benchmarks" / "results.json"
    results = json.loads(results_file.read_text())
    assert all(r["mode"] == "full" for r in results["rows"].values())
    readme = (ROOT / "README.md").read_text()
    block = readme.split(BENCH_START, 1)[1].split(BENCH_END, 1)[0]
    assert block.strip() == markdown(results).strip()
    assert (ROOT / "benchmarks" / "results.md").read_text().strip() == markdown(results).strip()


def test_code_version_ignores_run_outputs_but_not_code(tmp_path):
    from benchmarks.core import code_version

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "answers").mkdir()
    for name in ("answers/01.ipynb", "model.py", "README.md"):
        (tmp_path / name).write_text("v1\n", encoding="utf-8")
    git("add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "one")
    clean = code_version(tmp_path)
    assert clean and "+changes" not in clean and clean != "unknown"
    for name in ("answers/01.ipynb", "README.md"):  # what notebook runs write
        (tmp_path / name).write_text("v2\n", encoding="utf-8")
    assert code_version(tmp_path) == clean
    (tmp_path / "model.py").write_text("v2\n", encoding="utf-8")
    assert code_version(tmp_path) == clean + "+changes"


def test_data_line_says_how_much_of_the_official_dataset_a_copy_holds():
    from types import SimpleNamespace

    from benchmarks.tasks import _data_line

    real = SimpleNamespace(synthetic=False)
    line = _data_line(real, False, 60_000, train=10_000, test=4_000)
    assert line == "train 10 000, test 4 000 (real, 14 000 of the official 60 000 images)"
    assert _data_line(real, False, 14_000, train=10_000, test=4_000).endswith("(real)")
    fake = SimpleNamespace(synthetic=True)
    assert _data_line(fake, True, train=1).endswith("(synthetic stand-in)")
