"""What a notebook run reports: mode, data, hardware, wall time, peak memory and metrics.

Every notebook starts with :func:`start_run` and ends with :meth:`Run.finish`. When
``make execute-all`` runs it, ``CNN_SUITE_RESULTS_DIR`` is set and ``finish`` writes
``<name>.json`` there; :mod:`helpers.execute` merges those into ``answers/results.json``.
:func:`replace_block` rewrites the generated tables between markers in the README (results
of the notebooks and of the benchmark).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RESULTS_DIR_ENV, RunConfig, make_config
from .datasets.base import Dataset
from .errors import SyntheticDataError


def cpu_model() -> str:
    """The CPU's marketing name, from /proc/cpuinfo where available."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    """CPU, core count, memory and accelerators this process sees."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover
        pass
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        info["tensorflow"] = tf.__version__
        info["gpus"] = [d.name for d in tf.config.list_physical_devices("GPU")]
    return info


def hardware_line(info: dict[str, Any] | None = None) -> str:
    info = info or hardware()
    gpus = info.get("gpus") or []
    acc = f", {len(gpus)} GPU" if gpus else ", no GPU"
    return f"{info['cpu']}, {info['cores']} cores, {info.get('memory_gib', '?')} GiB{acc}"


def peak_memory_bytes() -> int:
    """Peak resident memory of this process so far, in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def peak_memory_gib() -> float:
    """Peak resident memory of this process so far, in GiB, rounded to 0.01."""
    return round(peak_memory_bytes() / 2**30, 2)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class Run:
    """Collects one notebook run's facts and metrics."""

    cfg: RunConfig
    started: float = field(default_factory=time.time)
    datasets: dict[str, dict] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def use(self, dataset: Dataset) -> Dataset:
        """Record that the run uses ``dataset``; full mode refuses a synthetic stand-in."""
        if dataset.synthetic and not self.cfg.quick:
            raise SyntheticDataError(
                f"full mode needs the real {dataset.name} data, but only a synthetic stand-in "
                "was available; see data/README.md for where to get it"
            )
        self.datasets[dataset.name] = dataset.describe()
        return dataset

    def load(self, name: str, **options: Any) -> Dataset:
        """Load a dataset the way this run's mode wants it, and record it (:meth:`use`).

        The data folder handed to :func:`start_run` (else ``DATA_DIR`` and the default
        places) is searched; quick mode never downloads and may fall back to a synthetic
        stand-in, full mode downloads where an official URL exists and refuses stand-ins.
        ``options`` (``limit_per_class``, ``seed``, ...) go to the loader and win.
        """
        from .datasets import load

        return self.use(load(name, self.cfg.data_path(name), quick=self.cfg.quick, **options))

    def log(self, **metrics: Any) -> None:
        """Record headline metrics (numbers, short strings, small dicts)."""
        self.metrics.update(_jsonable(metrics))

    def header_markdown(self) -> str:
        mode = "**quick** (small subsets, for tests)" if self.cfg.quick else "**full** (graded run)"
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.started))
        return (
            f"Run `{self.cfg.name}` in {mode} mode, seed {self.cfg.seed}, on "
            f"{hardware_line()}; started {started}."
        )

    def summary(self) -> dict[str, Any]:
        return {
            "notebook": self.cfg.name,
            "mode": self.cfg.mode,
            "seed": self.cfg.seed,
            "data": self.datasets,
            "hardware": hardware(),
            "wall_time_s": round(time.time() - self.started, 1),
            "peak_memory_gib": peak_memory_gib(),
            "metrics": self.metrics,
        }

    def finish(self) -> dict[str, Any]:
        """Return the summary and, under ``make execute-all``, write it for the runner."""
        summary = self.summary()
        out = os.environ.get(RESULTS_DIR_ENV)
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            (Path(out) / f"{self.cfg.name}.json").write_text(json.dumps(summary, indent=2))
        return summary


def start_run(
    name: str, quick: bool | None = None, seed: int = 42, data_dir: str | Path | None = None
) -> Run:
    """Configure the mode, seed every generator and start timing a notebook run."""
    return Run(make_config(name, quick=quick, seed=seed, data_dir=data_dir))


def replace_block(path: Path, start: str, end: str, body: str) -> None:
    """Replace what lies between the ``start`` and ``end`` marker lines of a text file."""
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no generated-block markers ({start!r} ... {end!r})")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{body}\n{end}{tail}", encoding="utf-8")
