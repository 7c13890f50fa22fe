"""Shared fixtures: the real shared data, isolated data folders, a local HTTP server, images."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.config import CACHE_DIR_ENV, DATA_DIR_ENV, REPO_ROOT

SHARED = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The folder with the materialised real datasets (``DATA_DIR``, as ``.ci/run`` sets it)."""
    env = os.environ.get(DATA_DIR_ENV)
    if env and (Path(env) / "gtsrb").is_dir():
        return Path(env)
    pytest.skip(
        "real data not materialised: run ../shared/data/materialize.sh DEST and set DATA_DIR"
    )


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
