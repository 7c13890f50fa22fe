"""Mode switch, statistics and the run report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.config import make_config, quick_from_env
from helpers.datasets import ArraySplit, Dataset, subsample_per_class
from helpers.errors import SyntheticDataError
from helpers.reporting import start_run
from helpers.stats import brightness_contrast, imbalance_ratio, original_sizes, size_table


@pytest.mark.parametrize(
    "raw, expected",
    [("1", True), ("true", True), ("0", False), ("", False), ("off", False), ("YES", True)],
)
def test_quick_switch(monkeypatch, raw, expected):
    monkeypatch.setenv("CNN_SUITE_QUICK", raw)
    assert quick_from_env() is expected
    assert make_config("x").quick is expected
    assert make_config("x", quick=not expected).quick is (not expected)  # the parameter wins


def test_quick_switch_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("CNN_SUITE_QUICK", "maybe")
    with pytest.raises(ValueError, match="CNN_SUITE_QUICK"):
        quick_from_env()


def test_pick_and_data_path(tmp_path):
    cfg = make_config("x", quick=True, data_dir=tmp_path)
    assert cfg.pick(quick=1, full=2) == 1 and cfg.mode == "quick"
    assert cfg.data_path("gtsrb") == tmp_path / "gtsrb"
    assert make_config("x", quick=False).data_path("gtsrb") is None


def test_subsample_per_class():
    y = np.array([0] * 10 + [1] * 3 + [2] * 7)
    idx = subsample_per_class(y, 4, seed=0)
    assert np.bincount(y[idx]).tolist() == [4, 3, 4]
    assert (np.diff(idx) > 0).all()
    assert len(subsample_per_class(y, None)) == 20


def test_imbalance_ratio():
    assert imbalance_ratio([180, 2010, 500]) == pytest.approx(2010 / 180)
    with pytest.raises(ValueError):
        imbalance_ratio([3, 0])


def test_brightness_contrast_known_values():
    img = np.zeros((1, 2, 2, 3), np.uint8)
    img[0, 0, :] = 255  # one white row, one black row
    b, c = brightness_contrast(img)
    assert b[0] == pytest.approx(127.5, abs=0.01) and c[0] == pytest.approx(127.5, abs=0.01)


def test_sizes_from_extra_and_shape():
    part = ArraySplit(
        np.zeros((2, 32, 32, 3), np.uint8),
        np.array([0, 1]),
        {"sizes": np.array([[40, 20], [30, 30]])},
    )
    assert original_sizes(part).tolist() == [[40, 20], [30, 30]]
    assert size_table(original_sizes(part))["aspect median"] == pytest.approx(1.5)
    bare = ArraySplit(np.zeros((1, 8, 16, 3), np.uint8), np.array([0]))
    assert original_sizes(bare).tolist() == [[16, 8]]


def _dataset(synthetic):
    part = ArraySplit(np.zeros((2, 4, 4, 3), np.uint8), np.array([0, 1]))
    return Dataset(
        "toy", ["a", "b"], {"train": part}, "synthetic" if synthetic else "/x", synthetic=synthetic
    )


def test_full_mode_refuses_synthetic_data():
    with pytest.raises(SyntheticDataError):
        start_run("t", quick=False).use(_dataset(True))
    assert start_run("t", quick=True).use(_dataset(True)).synthetic


def test_finish_writes_results_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_SUITE_RESULTS_DIR", str(tmp_path))
    run = start_run("99_toy", quick=True)
    run.use(_dataset(False))
    run.log(accuracy=np.float32(0.5), per_class=[np.int64(1), 2])
    summary = run.finish()
    written = json.loads((tmp_path / "99_toy.json").read_text())
    assert written == json.loads(json.dumps(summary))
    assert written["metrics"] == {"accuracy": 0.5, "per_class": [1, 2]}
    assert written["mode"] == "quick" and written["data"]["toy"]["images"] == {"train": 2}
    assert written["peak_memory_gib"] > 0 and written["hardware"]["cores"] >= 1
