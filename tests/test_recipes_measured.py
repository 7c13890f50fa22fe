"""The benchmark's committed rows, read back for the notebooks."""

import json

import numpy as np
import pytest

from helpers.recipes.measured import (
    ablation_styler,
    ablation_summary,
    ablation_table,
    benchmark_row,
    two_run_half_width,
)


def _write(tmp_path, rows):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"rows": rows}), encoding="utf-8")
    return path


def test_ablation_table_picks_the_recipe_rows_and_measures_each_gap_from_the_reference(tmp_path):
    row = {"test_accuracy": 0.9, "epochs": 9, "train_seconds": 800.0, "code": "abc1234",
           "measured": "2026-11-24 12:00", "hardware": "cpu"}
    rows = {
        "x/cnn": {**row, "key": "x/cnn", "model": "the recipe"},
        "x/cnn/ablation/reference": {**row, "key": "x/cnn/ablation/reference",
                                     "ablation_of": "x/cnn", "test_accuracy": 0.80,
                                     "model": "ablation reference: the full recipe, 5-min budget"},
        "x/cnn/ablation/jitter": {**row, "key": "x/cnn/ablation/jitter", "ablation_of": "x/cnn",
                                  "test_accuracy": 0.83, "model": "ablation: without jitter"},
        "y/other": {**row, "key": "y/other", "model": "another recipe"},
    }
    table = ablation_table("x/cnn", _write(tmp_path, rows))
    assert list(table.index) == ["the recipe", "ablation reference: the full recipe, 5-min budget",
                                 "ablation: without jitter"]
    assert table.loc["ablation: without jitter", "vs reference (points)"] == pytest.approx(3.0)
    assert np.isnan(table.loc["the recipe", "vs reference (points)"])
    assert table.loc["the recipe", "code"] == "abc1234"
    text = ablation_summary(table, 1000)
    assert "without jitter: +3.0 points (within the two-run interval)" in text
    assert "±2.5 points" in text  # Wilson
    assert "80.0%" in text and "epochs against" not in text  # same epochs: no caveat
    assert "±3.5" in text  # the difference of two runs: √2 × 2.5
    assert two_run_half_width(0.8, 1000) == pytest.approx(3.5, abs=0.05)
    assert ablation_summary(table.iloc[:1], 1000) == ""
    shorter = table.assign(epochs=[9, 9, 7])  # the ablation fitted fewer epochs in its budget
    assert "7 epochs against the reference's 9" in ablation_summary(shorter, 1000)
    big_gap = table.assign(**{"vs reference (points)": [np.nan, np.nan, -5.0]})
    assert ": -5.0 points (beyond the two-run interval)" in ablation_summary(big_gap, 1000)
    assert "another commit" not in text  # one commit for all rows
    older = table.assign(code=["new5678", "abc1234", "abc1234"],
                         measured=["2026-12-06 02:53", "2026-11-24 12:00", "2026-11-24 12:05"],
                         hardware=["Xeon, 2 cores", "EPYC, 2 cores", "EPYC, 2 cores"])
    note = ablation_summary(older, 1000)
    assert note.startswith("The ablation rows ran at another commit than the full-length row "
                           "(ablation: 2026-11-24, commit abc1234, EPYC; full length: "
                           "2026-12-06, commit new5678, Xeon)")
    html = ablation_styler(table).to_html()
    assert "+3.0" in html and "abc1234" not in html and "shorter time budget" in html
    assert "measured" not in html.split("<thead>")[1].split("</thead>")[0]  # no date column


def test_ablation_table_is_empty_without_the_file_and_refuses_a_foreign_file(tmp_path):
    assert ablation_table("x/cnn", tmp_path / "missing.json").empty
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2, 3]", encoding="utf-8")
    with pytest.raises(ValueError, match="not the benchmark's results"):
        ablation_table("x/cnn", bad)
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not the benchmark's results"):
        ablation_table("x/cnn", bad)


def test_ablation_table_reads_the_committed_results_for_every_trained_recipe():
    table = ablation_table("gtsrb/cnn")
    assert len(table) >= 3 and table["code"].notna().all()


def test_benchmark_row_reads_one_row_and_refuses_a_foreign_file(tmp_path):
    path = _write(tmp_path, {"x/cnn": {"test_accuracy": 0.9},
                             "x/cnn_colour": {"test_accuracy": 0.95}})
    assert benchmark_row("x/cnn_colour", path) == {"test_accuracy": 0.95}
    assert benchmark_row("x/absent", path) is None
    assert benchmark_row("x/cnn", tmp_path / "missing.json") is None
    path.write_text(json.dumps({"rows": [1, 2]}), encoding="utf-8")
    with pytest.raises(ValueError, match="not the benchmark's results"):
        benchmark_row("x/cnn", path)
