"""GTSRB pickles: the real shared copy, the alternative file names and every kind of bad file."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from helpers.datasets import load_gtsrb
from helpers.errors import DataFormatError, DataNotFoundError, UnsafePickleError


def test_real_gtsrb(real_data):
    d = load_gtsrb(real_data / "gtsrb")
    assert d.num_classes == 43 and d.class_names[14] == "Stop"
    assert {s: len(p) for s, p in d.splits.items()} == {
        "train": 34799,
        "validation": 4410,
        "test": 12630,
    }
    for part in d.splits.values():
        assert part.x.dtype == np.uint8 and part.x.shape[1:] == (32, 32, 3)
        assert part.y.dtype == np.int64 and part.y.min() == 0 and part.y.max() == 42
        assert part.extra["sizes"].shape == (len(part), 2)
    assert not d.synthetic and d.source.endswith("gtsrb")


def test_real_gtsrb_found_through_data_dir(real_data, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(real_data))
    d = load_gtsrb(limit_per_class=5)
    assert all(np.bincount(p.y, minlength=43).max() <= 5 for p in d.splits.values())
    assert len(d["train"]) == 43 * 5


def _write(
    folder,
    names=("train.pickle", "valid.pickle", "test.pickle"),
    csv="label_names.csv",
    n=6,
    data=None,
):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        blob = (
            data
            if data is not None
            else {
                "features": rng.integers(0, 255, (n, 32, 32, 3), dtype=np.uint8),
                "labels": np.arange(n) % 3,
                "sizes": np.full((n, 2), 40),
                "coords": np.zeros((n, 4)),
            }
        )
        (folder / name).write_bytes(pickle.dumps(blob))
    (folder / csv).write_text("ClassId,SignName\n0,Stop\n1,Yield\n2,No entry\n")
    return folder


def test_common_p_and_signnames_names(tmp_path):
    d = load_gtsrb(_write(tmp_path / "g", ("train.p", "valid.p", "test.p"), "signnames.csv"))
    assert d.class_names == ["Stop", "Yield", "No entry"] and len(d["test"]) == 6


def test_missing_folder_names_layout(isolated):
    with pytest.raises(DataNotFoundError) as err:
        load_gtsrb()
    text = str(err.value)
    assert "train.pickle" in text and "label_names.csv" in text and str(isolated["data"]) in text


def test_explicit_path_that_is_wrong(tmp_path):
    with pytest.raises(DataNotFoundError, match="Expected layout"):
        load_gtsrb(tmp_path / "nowhere")


def test_wrong_keys(tmp_path):
    folder = _write(
        tmp_path / "g", data={"images": np.zeros((2, 32, 32, 3), np.uint8), "y": [0, 1]}
    )
    with pytest.raises(DataFormatError, match=r"missing keys \['features', 'labels'\]"):
        load_gtsrb(folder)


def test_truncated_pickle(tmp_path):
    folder = _write(tmp_path / "g")
    blob = (folder / "test.pickle").read_bytes()
    (folder / "test.pickle").write_bytes(blob[:100])
    with pytest.raises(DataFormatError, match="truncated"):
        load_gtsrb(folder)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle(tmp_path):
    folder = _write(tmp_path / "g")
    marker = tmp_path / "ran"
    (folder / "valid.pickle").write_bytes(pickle.dumps({"features": _Evil(marker), "labels": [0]}))
    with pytest.raises(UnsafePickleError):
        load_gtsrb(folder)
    assert not marker.exists()


def test_labels_out_of_range(tmp_path):
    data = {"features": np.zeros((2, 32, 32, 3), np.uint8), "labels": np.array([0, 7])}
    with pytest.raises(DataFormatError, match="labels span"):
        load_gtsrb(_write(tmp_path / "g", data=data))


def test_bad_csv_header(tmp_path):
    folder = _write(tmp_path / "g")
    (folder / "label_names.csv").write_text("id,name\n0,Stop\n")
    with pytest.raises(DataFormatError, match="ClassId,SignName"):
        load_gtsrb(folder)


def test_synthetic_only_when_allowed(isolated):
    with pytest.warns(UserWarning, match="SYNTHETIC"):
        d = load_gtsrb(allow_synthetic=True, limit_per_class=3)
    assert d.synthetic and d.source == "synthetic" and d.num_classes == 43
    assert d["train"].x.shape[1:] == (32, 32, 3)
