"""What CI promises the rest of the suite: the shared data and weights, and no silent skips.

The quick notebooks fall back to a labelled synthetic stand-in when a dataset is missing, which
is right on an offline laptop and wrong in CI: there, ``real_data`` fails rather than skips, so
a broken materialisation cannot pass as a green run on synthetic images.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import IN_CI, REAL_DATASETS, require

from helpers.backbones import BACKBONES, cached_weights


def test_shared_data_holds_every_dataset(real_data):
    for name in REAL_DATASETS:
        assert any((real_data / name).iterdir()), f"{name} is empty under {real_data}"


def test_shared_weights_are_cached():
    require(
        cached_weights(BACKBONES["mobilenet_0.75"]) is not None,
        "MobileNet weights not in KERAS_HOME (materialize.sh DEST KERAS_HOME)",
    )


def test_require_fails_in_ci_and_skips_elsewhere(monkeypatch):
    import conftest

    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI must provide this: chromium"):
        conftest.require(False, "chromium")
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        conftest.require(False, "chromium")
    conftest.require(True, "nothing")  # present: neither


def test_ci_script_fails_without_chromium_and_sets_ci():
    script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "export CI=true" in script and "|| echo" not in script
    assert "exit 1" in script.split("chromium", 1)[1]
    if IN_CI:
        assert os.environ.get("DATA_DIR") and os.environ.get("KERAS_HOME")
