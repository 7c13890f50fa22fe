"""The restricted unpickler admits NumPy arrays and builtins and nothing else."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from helpers.errors import DataFormatError, UnsafePickleError
from helpers.safe_pickle import load_pickle


class _RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_numpy_dict_round_trip(tmp_path):
    data = {
        "features": np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3),
        "labels": np.array([0, 1]),
        "names": ["a", "b"],
        "raw": b"xy",
    }
    for protocol in (2, 4, 5):
        path = tmp_path / f"p{protocol}.pickle"
        path.write_bytes(pickle.dumps(data, protocol=protocol))
        out = load_pickle(path)
        np.testing.assert_array_equal(out["features"], data["features"])
        assert out["names"] == ["a", "b"] and out["raw"] == b"xy"


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"features": _RunsCode(str(marker)), "labels": [0]}))
    with pytest.raises(UnsafePickleError, match=r"posix\.system|os\.system|refusing"):
        load_pickle(path)
    assert not marker.exists()


def test_builtin_eval_is_refused(tmp_path):
    path = tmp_path / "eval.pickle"
    path.write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        load_pickle(path)


def test_truncated_pickle_gives_clear_error(tmp_path):
    path = tmp_path / "cut.pickle"
    blob = pickle.dumps({"features": np.zeros((50, 32, 32, 3), np.uint8)})
    path.write_bytes(blob[: len(blob) // 3])
    with pytest.raises(DataFormatError, match="truncated or damaged"):
        load_pickle(path)


def test_not_a_pickle(tmp_path):
    path = tmp_path / "text.pickle"
    path.write_text("hello, I am not a pickle")
    with pytest.raises(DataFormatError):
        load_pickle(path)
