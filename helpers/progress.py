"""Progress of long runs, shown outside the notebooks: which model trains, epoch, time left.

``make execute-all`` and ``make bench`` run for hours. Training cells print one line per epoch
into the executed notebook (that is part of the report), but the terminal that started the
run sees nothing while a notebook executes in its kernel. This module bridges the two without
adding anything to the notebooks:

* :class:`TrainingStatus`, a Keras callback that :func:`helpers.training.fit` attaches when
  ``CNN_SUITE_PROGRESS_FILE`` names a file: after every epoch it rewrites that small JSON file
  (model, epoch, epoch limit, elapsed seconds, wall-clock budget);
* :class:`ProgressMonitor`, run by the runner (``helpers.execute``, ``python -m benchmarks``):
  a thread that reads the file and shows it, as a ``tqdm`` bar on a terminal or as one line
  per epoch in a log file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import keras

PROGRESS_ENV = "CNN_SUITE_PROGRESS_FILE"


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` by ``data`` as JSON in one step (a reader never sees half a file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


class TrainingStatus(keras.callbacks.Callback):
    """Writes where training is to a JSON file after every epoch (and when it starts)."""

    def __init__(self, path: str | Path, label: str, max_epochs: int,
                 budget_s: float | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.label = label
        self.max_epochs = max_epochs
        self.budget_s = budget_s
        self._start = 0.0

    def _write(self, epoch: int, done: bool = False) -> None:
        status = {"label": self.label, "epoch": epoch, "max_epochs": self.max_epochs,
                  "elapsed_s": round(time.perf_counter() - self._start, 1),
                  "budget_s": self.budget_s, "done": done}
        with contextlib.suppress(OSError):  # progress is a courtesy: never fail training for it
            _write_atomic(self.path, status)

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._write(0)

    def on_epoch_end(self, epoch, logs=None):
        self._write(epoch + 1)

    def on_train_end(self, logs=None):
        self._write(len(self.model.history.epoch) if self.model.history else 0, done=True)


def status_callbacks(label: str, max_epochs: int, budget_s: float | None) -> list:
    """``[TrainingStatus]`` when a runner asked for progress (``CNN_SUITE_PROGRESS_FILE``)."""
    path = os.environ.get(PROGRESS_ENV)
    return [TrainingStatus(path, label, max_epochs, budget_s)] if path else []


def describe(status: dict[str, Any]) -> str:
    """One line for a status: ``training gtsrb_cnn: epoch 5/200, 6.1 of 15.0 min``."""
    minutes = status["elapsed_s"] / 60
    budget = status.get("budget_s")
    of = f" of {budget / 60:.1f} min budget" if budget else " min"
    state = "trained" if status.get("done") else "training"
    return (f"{state} {status['label']}: epoch {status['epoch']}/{status['max_epochs']}, "
            f"{minutes:.1f}{of}")


class ProgressMonitor:
    """Shows the training status file while a long step runs (context manager).

    On a terminal a ``tqdm`` bar (position 1, under papermill's cell bar) follows the
    elapsed share of the budget; elsewhere (``nohup``, CI logs) one line is printed per new
    epoch. ``expected_s``, when known (the last run's wall time), is printed at the start.
    """

    def __init__(self, title: str, expected_s: float | None = None, *, interval: float = 1.0,
                 stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.title = title
        self.expected_s = expected_s
        self.interval = interval
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._dir = tempfile.TemporaryDirectory(prefix="cnn-suite-progress-")
        self.path = Path(self._dir.name) / "status.json"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._previous_env: str | None = None
        self._last: tuple | None = None
        self._bar = None
        self.lines: list[str] = []

    def __enter__(self) -> ProgressMonitor:
        self._previous_env = os.environ.get(PROGRESS_ENV)
        os.environ[PROGRESS_ENV] = str(self.path)
        expected = f", expected about {self.expected_s / 60:.0f} min (last run)" \
            if self.expected_s else ""
        self._emit(f"{self.title}: started {time.strftime('%H:%M:%S')}{expected}")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()
        if self._bar is not None:
            self._bar.close()
        if self._previous_env is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = self._previous_env
        self._dir.cleanup()

    def _emit(self, line: str) -> None:
        self.lines.append(line)
        print(line, file=self.stream, flush=True)

    def poll(self) -> None:
        """Read the status file once and show what changed."""
        try:
            status = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        key = (status["label"], status["epoch"], status.get("done"))
        if key == self._last:
            return
        self._last = key
        if not self.tty:
            self._emit(f"  {describe(status)}")
            return
        from tqdm.auto import tqdm

        if self._bar is None:
            self._bar = tqdm(total=1, position=1, leave=False, file=self.stream,
                             bar_format="{desc} |{bar}|")
        budget = status.get("budget_s")
        # the share of the budget spent when there is one, else the share of the epoch limit
        total, done = (budget, status["elapsed_s"]) if budget else (status["max_epochs"],
                                                                      status["epoch"])
        self._bar.reset(total=total)
        self._bar.update(min(done, total))
        self._bar.set_description(describe(status))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()
