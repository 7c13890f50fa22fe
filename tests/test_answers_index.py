"""The grader's map (every handout item → the report section answering it) and the index page."""

from __future__ import annotations

import html
import re
from collections import Counter

import nbformat
import pytest
from conftest import require
from nbconvert import HTMLExporter

from helpers.answers_index import data_text, format_value, write_index
from helpers.config import REPO_ROOT
from helpers.handouts import BSC, CS577, HANDOUT_FILES, ITEMS, MSC, find_anchor, result_of

ASSIGNMENTS = REPO_ROOT.parent / "shared" / "assignments"


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\\_", "_")).lower()


def _handout_items(handout: str, text: str) -> int:
    """How many items the handout's own text has (questions, parts, bullets, points)."""
    if handout == CS577:
        theory, programming = text.split("## Programming questions")
        parts = re.findall(r"- \(([a-i])\)", programming)
        return len(re.findall(r"(?m)^\d+\.\s", theory)) + len(parts)
    if handout == BSC:
        objective = text.split("\nObjective\n")[1].split("\nDataset\n")[0]
        methodology = text.split("Methodology")[1].split("Expected Outcome")[0]
        return (len(set(re.findall(r"Exercise (\d)", text)))
                + len(re.findall(r"- \*\*", objective)) + len(re.findall(r"- \*\*", methodology)))
    exercise6 = text.split("Exercise 6")[1]
    bullets = re.findall(r"(?m)^\.?\s*- \S", exercise6)
    return len(set(re.findall(r"Exercise (\d)", text)) - {"6"}) + len(bullets)


@pytest.fixture(scope="module")
def handouts() -> dict[str, str]:
    require(ASSIGNMENTS.is_dir(), f"the handouts are not at {ASSIGNMENTS}")
    return {h: (ASSIGNMENTS / f).read_text(encoding="utf-8") for h, f in HANDOUT_FILES.items()}


def test_the_map_lists_every_item_of_every_handout_once(handouts):
    per_handout = Counter(item.handout for item in ITEMS)
    counts = {h: _handout_items(h, text) for h, text in handouts.items()}
    assert counts == {CS577: 35, BSC: 13, MSC: 13}  # 21 + 9 + 5; 5 + 3 + 5; 5 + 8
    assert dict(per_handout) == counts
    labels = [(item.handout, item.item) for item in ITEMS]
    assert len(labels) == len(set(labels))


def test_every_item_quotes_its_own_handout(handouts):
    for item in ITEMS:
        assert _squash(item.quote) in _squash(handouts[item.handout]), item


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """Each notebook rendered by the runner's exporter (no execution: same headings)."""
    pages = {}
    for name in sorted({item.notebook for item in ITEMS}):
        nb = nbformat.read(REPO_ROOT / "notebooks" / f"{name}.ipynb", 4)
        pages[name] = HTMLExporter(template_name="lab").from_notebook_node(nb)[0]
    return pages


def test_every_item_links_to_an_anchor_that_exists_in_its_report(rendered):
    for item in ITEMS:
        anchor = find_anchor(rendered[item.notebook], item.heading)
        assert anchor, f"{item.item}: no heading starting with {item.heading!r} in {item.notebook}"
        assert f'id="{anchor}"' in rendered[item.notebook]


def test_index_page_links_anchors_and_formats_results(tmp_path, rendered):
    for name, page in rendered.items():
        (tmp_path / f"{name}.html").write_text(page, encoding="utf-8")
    results = {"04_traffic_signs": {
        "mode": "full", "report": "04_traffic_signs.html", "executed_wall_time_s": 1800.0,
        "data": {"gtsrb": {"dataset": "gtsrb", "source": "/tmp/tmpabc/gtsrb", "synthetic": False,
                           "classes": 43, "images": {"train": 34799, "test": 12630}}},
        "metrics": {"final_cnn_test_accuracy": 0.98591, "backbone": "MobileNet α=0.75",
                    "test_accuracy": {"plain CNN": 0.885, "final": 0.9859}}}}
    write_index(results, tmp_path / "index.html")
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    links = [html.unescape(link) for link in re.findall(r'href="([^"]+)"', page)]
    for item in ITEMS:
        anchor = find_anchor(rendered[item.notebook], item.heading)
        assert f"{item.notebook}.html#{anchor}" in links
    assert "final_cnn_test_accuracy: 98.6 %" in page  # the custom-CNN row's result
    assert "MobileNet α=0.75" in page and "\\u03b1" not in page
    assert "/tmp/tmpabc" not in page and "GTSRB (Stallkamp et al. 2012)" in page
    assert "plain CNN: 88.5 %; final: 98.6 %" in page  # no JSON, nothing cut off


def test_values_are_formatted_for_reading():
    assert format_value("test_accuracy", 0.98591) == "98.6 %"
    assert format_value("seconds", 1234.5678) == "1235"
    assert format_value("images", 34799) == "34\u202f799"
    assert format_value("used", True) == "yes"
    assert format_value("macro_f1", {"a": 0.5, "b": 1.0}) == "a: 50.0 %; b: 100.0 %"
    assert result_of({"acc": {"x": 1}}, "acc/x") == 1 and result_of({}, "acc/x") is None
    text = data_text({"ahe": {"classes": 10, "images": {"test": 1404}, "synthetic": True}})
    assert text.startswith("Architectural Heritage Elements Image64") and "SYNTHETIC" in text
