"""The notebooks as committed: no outputs, short cells, no results typed into prose.

Executed copies live in ``answers/``; the notebooks themselves carry no outputs. Every code cell
tells one idea (at most 25 lines; the generated Colab set-up cell aside). In the graded notebooks
(02-05) every result in prose is formatted by a code cell of the run, so markdown cells after the
header hold no percentages and no decimals with two or more places: such a number would be
typed, and the next run would contradict it.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
GRADED = [p for p in NOTEBOOKS if p.name[:2] in {"02", "03", "04", "05"}]
MAX_LINES = 25
TYPED_RESULT = re.compile(r"\d+(?:\.\d+)?\s?%|\d\.\d{2,}")
CONSTANTS = {"1.96"}  # the normal quantile of a 95 % interval is not a result


def _cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def test_the_notebooks_are_found():
    assert len(NOTEBOOKS) >= 6 and len(GRADED) == 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    dirty = [i for i, c in enumerate(_cells(path))
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short(path):
    cells = _cells(path)
    long = {i: len(c.source.splitlines()) for i, c in enumerate(cells[1:], start=1)
            if c.cell_type == "code" and len(c.source.splitlines()) > MAX_LINES}
    assert not long, f"{path.name}: cells over {MAX_LINES} lines (index: lines): {long}"


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.stem)
def test_no_results_typed_into_markdown(path):
    cells = _cells(path)
    header = next(i for i, c in enumerate(cells) if c.cell_type == "markdown")
    typed = {i: found for i, c in enumerate(cells) if c.cell_type == "markdown" and i > header
             and (found := set(TYPED_RESULT.findall(c.source)) - CONSTANTS)}
    assert not typed, f"{path.name}: numbers typed into markdown (cell: matches): {typed}"


def test_the_typed_result_pattern_catches_what_it_should():
    assert TYPED_RESULT.search("reaches 98.2 % on the test set")
    assert TYPED_RESULT.search("macro F1 0.9662")
    assert set(TYPED_RESULT.findall("a margin of 1.96 standard errors")) <= CONSTANTS
    assert not TYPED_RESULT.search("3×3 convolutions at 32 channels, 2×2 pooling, 64×64 px")
