"""The committed graded outputs: one full-mode entry per notebook, real data, bounded memory.

These tests read committed files (``answers/results.json``) only: they check the graded run's
record, not the behaviour of the code.
"""

from __future__ import annotations

import json

import pytest

from helpers.config import REPO_ROOT

RESULTS = REPO_ROOT / "answers" / "results.json"
MEMORY_LIMIT_GIB = 8.0  # a full run must fit comfortably on a 24 GiB machine


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(RESULTS.read_text())


def test_every_notebook_has_a_full_run_entry(results):
    notebooks = {p.stem for p in (REPO_ROOT / "notebooks").glob("*.ipynb")}
    assert notebooks <= set(results), f"missing: {sorted(notebooks - set(results))}"
    for name in notebooks:
        entry = results[name]
        assert entry["mode"] == "full", name
        assert entry["metrics"], f"{name} logged no metrics"
        for d in entry.get("data", {}).values():
            assert not d["synthetic"], f"{name} used a synthetic stand-in in full mode"


def test_peak_memory_stays_bounded(results):
    over = {
        n: r["peak_memory_gib"]
        for n, r in results.items()
        if r["peak_memory_gib"] > MEMORY_LIMIT_GIB
    }
    assert not over, f"notebooks above {MEMORY_LIMIT_GIB} GiB: {over}"
