"""Shared fixtures: the real shared data, isolated data folders, a local HTTP server, images.

Also switches on the network guard (``tests/netguard``): nothing in a test run, notebook
kernels included, may connect outside 127.0.0.1. ``make notebooks`` names a file of this folder
so that this conftest, and with it the guard, is loaded for notebook-only runs too.

In CI (``CI=true``, exported by ``.ci/run``) a test that needs something CI is meant to
provide (the shared data, the cached Keras weights, Chromium) fails instead of skipping:
use :func:`require`.
"""

from __future__ import annotations

import functools
import http.server
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.config import CACHE_DIR_ENV, DATA_DIR_ENV, REPO_ROOT

sys.path.insert(0, str(Path(__file__).resolve().parent / "netguard"))
from pytest_netguard import NetGuard  # noqa: E402

SHARED = REPO_ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
REAL_DATASETS = ("cats_dogs", "cifar10", "gtsrb", "ahe")


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("cnn-suite-netguard"):
        config.pluginmanager.register(NetGuard(), "cnn-suite-netguard")


def require(condition: object, reason: str) -> None:
    """Skip when ``condition`` is false; in CI, fail: CI is meant to provide it."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The folder with the materialised real datasets (``DATA_DIR``, as ``.ci/run`` sets it)."""
    env = os.environ.get(DATA_DIR_ENV)
    require(
        env and all((Path(env) / name).is_dir() for name in REAL_DATASETS),
        "real data not materialised: run ../shared/data/materialize.sh DEST and set DATA_DIR",
    )
    return Path(env)


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> dict[str, Path]:
    """Empty DATA_DIR and cache folders, so loaders see no real data and write only to tmp."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    cache.mkdir()
    monkeypatch.setenv(DATA_DIR_ENV, str(data))
    monkeypatch.setenv(CACHE_DIR_ENV, str(cache))
    monkeypatch.setattr("helpers.config.REPO_ROOT", tmp_path / "repo")
    return {"data": data, "cache": cache}


@pytest.fixture
def http_root(tmp_path):
    """Serve a temporary folder on 127.0.0.1; yields (folder, base_url)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


def write_image(path: Path, size=(40, 30), mode="RGB", fmt="JPEG", seed=0) -> Path:
    """Write a small random image; ``mode='L'`` makes a grayscale one."""
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], len(mode))
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode=mode).save(path, format=fmt)
    return path


def truncated_jpeg(path: Path) -> Path:
    """A JPEG cut in half: the header is fine, the data stops early."""
    full = write_image(path.with_suffix(".tmp.jpg"), size=(64, 64))
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path
