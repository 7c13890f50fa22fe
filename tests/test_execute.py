"""The graded-output runner: selection, a passing and a failing notebook, the index page."""

from __future__ import annotations

import json

import nbformat
import pytest

from helpers import execute


def _notebook(path, code):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("QUICK = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def test_find_notebooks_by_number_or_name(tmp_path, monkeypatch):
    for name in ("00_a", "01_b", "10_c"):
        _notebook(tmp_path / f"{name}.ipynb", "pass")
    monkeypatch.setattr(execute, "NOTEBOOKS", tmp_path)
    assert [p.stem for p in execute.find_notebooks(None)] == ["00_a", "01_b", "10_c"]
    assert [p.stem for p in execute.find_notebooks(["01", "10_c"])] == ["01_b", "10_c"]
    with pytest.raises(SystemExit, match="no notebook matches '7'"):
        execute.find_notebooks(["7"])


@pytest.mark.slow
def test_runner_writes_outputs_and_fails_on_a_bad_cell(tmp_path, monkeypatch):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(
        nbs / "00_ok.ipynb",
        (
            "from helpers.reporting import start_run\n"
            "run = start_run('00_ok', quick=QUICK)\nrun.log(answer=42)\nrun.finish()"
        ),
    )
    _notebook(nbs / "01_bad.ipynb", "raise RuntimeError('cell failed on purpose')")
    monkeypatch.setattr(execute, "NOTEBOOKS", nbs)
    out = tmp_path / "answers"
    assert execute.main(["--quick", "--out", str(out)]) == 1
    results = json.loads((out / "results.json").read_text())
    assert list(results) == ["00_ok"]
    assert results["00_ok"]["metrics"] == {"answer": 42} and results["00_ok"]["mode"] == "quick"
    assert (out / "00_ok.html").read_text().count("<html") == 1
    assert "00_ok.html" in (out / "index.html").read_text()
    assert (out / "01_bad.partial.ipynb").exists() and not (out / "01_bad.ipynb").exists()


def test_readme_results_block_is_generated_from_results(tmp_path):
    results = {
        "02_x": {
            "mode": "full", "executed_wall_time_s": 90.0, "peak_memory_gib": 1.5,
            "hardware": {"cpu": "CPU", "cores": 2, "memory_gib": 8, "gpus": []},
            "metrics": {"acc": 0.91234, "per_model": {"a": 0.5, "b": 0.25}, "name": "x",
                        "big": {str(i): i for i in range(9)}},
        }
    }
    table = execute.results_markdown(results)
    assert "| `02_x` | full | CPU, 2 cores, 8 GiB, no GPU | 1.5 min | 1.5 GiB |" in table
    assert "acc: 0.9123; per_model: a 0.5, b 0.25 |" in table and "big" not in table
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{execute.README_START}\nold\n{execute.README_END}\noutro\n")
    execute.update_readme(results, readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "`02_x`" in text
    readme.write_text("no markers")
    with pytest.raises(SystemExit, match="no generated-block markers"):
        execute.update_readme(results, readme)


def test_graded_numbers_are_set_beside_the_benchmark_rows_of_their_recipes(tmp_path):
    results = {"04_traffic_signs": {"metrics": {"final_cnn_test_accuracy": 0.9880}},
               "05_architectural_heritage": {"metrics": {}}}
    rows = {"gtsrb/cnn": {"test_accuracy": 0.9900, "epochs": 12, "schedule": "by steps",
                          "measured": "2026-12-06 03:00",
                          "data": "train 34\u202f799, test 12\u202f630 (real)"},
            "ahe/scratch": {"test_accuracy": 0.85}}
    table = execute.graded_vs_benchmark(results, rows)
    # √2 × the Wilson half-width of 99.00 % on 12 630 images = 0.246 points: -0.20 lies within
    assert ("| `04_traffic_signs` | `gtsrb/cnn` | 98.80 % | 99.00 % (12 epochs, by steps, "
            "2026-12-06) | -0.20 points | ±0.25 points (12,630 test images): within |") in table
    further = {**rows, "gtsrb/cnn": {**rows["gtsrb/cnn"], "test_accuracy": 0.9905}}
    assert "-0.25 points | ±0.24 points (12,630 test images): below |" in (
        execute.graded_vs_benchmark(results, further))  # 0.25 points apart: below ±0.240
    assert execute.test_images({"data": "train 2 000, validation 1 000, test 1 000"}) == 1000
    assert execute.test_images({"data": "no split given"}) is None
    assert "| `05_architectural_heritage` | `ahe/scratch` | – | 85.00 %" in table  # not logged
    assert "| `02_cats_vs_dogs` | `cats_dogs/scratch` | – | – | – | – |" in table  # neither
    readme = tmp_path / "README.md"
    readme.write_text(f"{execute.README_START}\n{execute.README_END}\n")
    execute.update_readme(results, readme, rows)
    text = readme.read_text()
    assert "against the benchmark's row" in text and "-0.20 points" in text
    for name, (key, metric) in execute.GRADED_RECIPES.items():  # the mapping names real things
        source = (execute.NOTEBOOKS / f"{name}.ipynb").read_text()
        assert f"{metric}=" in source, f"{name} does not log {metric}"
        assert key.split("/")[0] in ("gtsrb", "ahe", "cats_dogs", "cifar10")
