"""The Colab first cell: the same in every notebook, a no-op locally, a working set-up on Colab.

Colab is simulated by putting a module named ``google.colab`` into ``sys.modules`` of a fresh
interpreter; the repository is cloned from this checkout (``CNN_SUITE_REPO``) into a
temporary ``CNN_SUITE_HOME``, and ``pip install -r requirements.txt`` runs against this
environment, where everything is already installed (so nothing is downloaded).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import colab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

SIMULATE = """
import json, sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")  # what Colab's kernel has
exec(compile(open(sys.argv[1]).read(), "first_cell", "exec"))
import helpers.config as config, os
print("RESULT " + json.dumps({"helpers": config.__file__, "data_dir": os.environ.get("DATA_DIR"),
                              "pythonpath": os.environ.get("PYTHONPATH", "")}))
"""


def _run(code_file: Path, env: dict, *, colab_: bool) -> subprocess.CompletedProcess:
    script = SIMULATE if colab_ else "exec(open(__import__('sys').argv[1]).read())"
    return subprocess.run(
        [sys.executable, "-c", script, str(code_file)],
        env=env, capture_output=True, text=True, timeout=600, cwd=code_file.parent,
    )


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_cell_is_the_colab_cell(nb):
    first = nbformat.read(nb, as_version=4).cells[0]
    assert first.cell_type == "code"
    assert first.source == colab.FIRST_CELL
    assert "colab" in first.metadata.get("tags", [])


def test_first_cell_does_nothing_outside_colab(tmp_path):
    cell = tmp_path / "cell.py"
    cell.write_text(colab.FIRST_CELL)
    home = tmp_path / "home"
    env = {**os.environ, "CNN_SUITE_HOME": str(home), "CNN_SUITE_REPO": str(tmp_path / "none")}
    env.pop("DATA_DIR", None)
    done = _run(cell, env, colab_=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert not home.exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_first_cell_sets_up_a_clone_on_colab(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to clone from")
    cell = tmp_path / "cell.py"
    cell.write_text(colab.FIRST_CELL)
    home = tmp_path / "content" / "cnn-suite"
    data = tmp_path / "data"
    (data / "cifar10").mkdir(parents=True)
    env = {**os.environ, "CNN_SUITE_HOME": str(home), "CNN_SUITE_REPO": str(ROOT),
           "DATA_DIR": str(data), "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = _run(cell, env, colab_=True)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert Path(result["helpers"]).resolve().is_relative_to(home.resolve())
    assert result["data_dir"] == str(data)
    assert str(home.resolve()) in result["pythonpath"].split(os.pathsep)
    assert (home / colab.INSTALLED_MARKER).is_file()
    assert "cifar10    found" in done.stdout
    assert "gtsrb      upload" in done.stdout
    # a second run (the cell executed again) keeps the clone and skips pip
    again = _run(cell, env, colab_=True)
    assert again.returncode == 0, again.stderr
    assert "cnn-suite ready" in again.stdout


def test_setup_refuses_a_folder_that_is_not_a_checkout(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a cnn-suite checkout"):
        colab.setup(tmp_path, install=False)


def test_data_dir_choice(tmp_path, monkeypatch):
    monkeypatch.delenv("DATA_DIR", raising=False)
    drive = tmp_path / "drive"
    assert colab.choose_data_dir(tmp_path, drive) == tmp_path / "data"
    drive.mkdir()
    assert colab.choose_data_dir(tmp_path, drive) == drive
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "mine"))
    assert colab.choose_data_dir(tmp_path, drive) == tmp_path / "mine"
