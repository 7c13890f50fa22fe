"""Progress of long runs: the training status file and the runner's monitor."""

from __future__ import annotations

import io
import json
import os

import keras
import numpy as np
import tensorflow as tf

from helpers.progress import PROGRESS_ENV, ProgressMonitor, describe
from helpers.training import TimeBudget, fit


def _tiny_fit(epochs: int = 3, budget: TimeBudget | None = None):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, (x[:, 0] > 0).astype("int64"))).batch(8)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")],
                             name="tiny")
    model.compile("sgd", "sparse_categorical_crossentropy")
    return fit(model, ds, epochs=epochs, verbose=0, callbacks=[budget] if budget else None)


def test_fit_writes_its_status_when_a_runner_asks(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    monkeypatch.setenv(PROGRESS_ENV, str(path))
    _tiny_fit(3, TimeBudget(60, peak_lr=0.1))
    status = json.loads(path.read_text())
    assert status["label"] == "tiny" and status["epoch"] == 3 and status["max_epochs"] == 3
    assert status["budget_s"] == 60 and status["done"] is True and status["elapsed_s"] >= 0
    assert describe(status).startswith("trained tiny: epoch 3/3, ")
    assert "of 1.0 min budget" in describe(status)


def test_fit_writes_nothing_without_a_runner(tmp_path, monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    _tiny_fit(1)
    assert list(tmp_path.iterdir()) == []


def test_monitor_prints_one_line_per_epoch_in_a_log_and_restores_the_environment(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "/somewhere/else.json")
    log = io.StringIO()
    with ProgressMonitor("04_traffic_signs", expected_s=600, interval=0.01, stream=log,
                         tty=False) as monitor:
        assert os.environ[PROGRESS_ENV] == str(monitor.path)
        _tiny_fit(2)
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("04_traffic_signs: started ") and "about 10 min" in lines[0]
    assert any(line.strip().startswith("trained tiny: epoch 2/2") for line in lines)
    assert len(lines) == len(set(lines))  # an unchanged status is not printed again
    assert os.environ[PROGRESS_ENV] == "/somewhere/else.json"
    assert not monitor.path.exists()  # its temporary folder is gone


def test_monitor_draws_a_bar_on_a_terminal():
    screen = io.StringIO()
    with ProgressMonitor("bench", interval=0.01, stream=screen, tty=True):
        _tiny_fit(2, TimeBudget(60, peak_lr=0.1))
    assert "tiny: epoch 2/2" in screen.getvalue() and "|" in screen.getvalue()
