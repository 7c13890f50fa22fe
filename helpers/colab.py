"""Running the notebooks on Google Colab: the first cell of every notebook, and what it calls.

Every notebook starts with :data:`FIRST_CELL`. Outside Colab (Jupyter, VS Code, nbmake,
papermill) it does nothing. On Colab it clones the repository into ``/content/cnn-suite``
(or ``$CNN_SUITE_HOME``) unless it is already there, then runs :func:`setup` from this file
*by path*: this module imports nothing from the ``helpers`` package, so it works before the
requirements are installed.

:func:`setup` installs ``requirements.txt`` (once; a marker file remembers it), makes the
cloned ``helpers`` importable, and chooses the data folder: ``$DATA_DIR`` if set, else
``/content/drive/MyDrive/cnn-suite-data`` if Google Drive is mounted and has it, else the
clone's ``data/``. CIFAR-10 and cats-vs-dogs download themselves there on first use; GTSRB
and AHE have no official download URL, and the summary it prints says where to put them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEFAULT_REPO = "https://github.com/cnn-suite/cnn-suite.git"
DEFAULT_HOME = "/content/cnn-suite"
DRIVE_DATA = "/content/drive/MyDrive/cnn-suite-data"
INSTALLED_MARKER = ".colab-installed"

# dataset folder -> what happens when it is missing
DATASETS = {
    "cats_dogs": "downloads itself on first use (787 MiB archive, split built once)",
    "cifar10": "downloads itself on first use (163 MiB)",
    "gtsrb": "upload train/valid/test pickles + label_names.csv (no official URL)",
    "ahe": "upload the Image64 train/ and test/ folders (no official URL)",
}

FIRST_CELL = f'''\
# Google Colab set-up: on Colab this fetches cnn-suite, installs its requirements and finds
# the data (README, "Colab"); anywhere else (Jupyter, VS Code, make test) it does nothing.
import os
import sys

if "google.colab" in sys.modules:
    import runpy
    import subprocess

    _home = os.environ.get("CNN_SUITE_HOME", "{DEFAULT_HOME}")
    if not os.path.isdir(_home):
        _repo = os.environ.get("CNN_SUITE_REPO", "{DEFAULT_REPO}")
        subprocess.run(["git", "clone", "--depth=1", _repo, _home], check=True)
    runpy.run_path(os.path.join(_home, "helpers", "colab.py"))["setup"](_home)'''


def choose_data_dir(home: Path, drive_data: str | Path = DRIVE_DATA) -> Path:
    """``$DATA_DIR`` if set, else the Drive folder if it exists, else ``<home>/data``."""
    if os.environ.get("DATA_DIR"):
        return Path(os.environ["DATA_DIR"]).expanduser()
    if Path(drive_data).is_dir():
        return Path(drive_data)
    return home / "data"


def setup(home: str | Path, *, install: bool = True, drive_data: str | Path = DRIVE_DATA) -> dict:
    """Install the requirements, make ``helpers`` importable and point ``DATA_DIR`` at the data.

    Args:
        home: the cloned repository.
        install: run ``pip install -r requirements.txt`` unless it already ran for this clone.
        drive_data: folder on a mounted Google Drive that may hold the datasets.

    Returns:
        ``home``, ``data_dir``, ``installed`` (pip ran now) and ``datasets``: for each
        dataset folder, ``"found"`` or what to do about it.
    """
    home = Path(home).resolve()
    requirements = home / "requirements.txt"
    if not requirements.is_file():
        raise FileNotFoundError(
            f"{home} is not a cnn-suite checkout (no requirements.txt); remove it or set "
            "CNN_SUITE_HOME to the folder you cloned the repository into"
        )
    marker = home / INSTALLED_MARKER
    installed = False
    if install and not marker.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "-r", str(requirements)], check=True
        )
        marker.write_text("requirements.txt installed\n")
        installed = True
    if str(home) not in sys.path:
        sys.path.insert(0, str(home))
    paths = [str(home), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    data_dir = choose_data_dir(home, drive_data)
    os.environ["DATA_DIR"] = str(data_dir)
    status = {
        name: "found" if (data_dir / name).is_dir() else todo for name, todo in DATASETS.items()
    }
    print(f"cnn-suite ready: code in {home}, data in {data_dir}")
    for name, state in status.items():
        print(f"  {name:10s} {state}")
    if any(state != "found" for state in status.values()):
        print(
            f"  To keep data between sessions put it in {drive_data} on Google Drive and run\n"
            "  `from google.colab import drive; drive.mount('/content/drive')` before this cell."
        )
    return {"home": home, "data_dir": data_dir, "installed": installed, "datasets": status}


def write_first_cells(folder: str | Path) -> list[Path]:
    """Put :data:`FIRST_CELL` first in every notebook of ``folder`` (replacing an older one).

    Run after changing :data:`DEFAULT_REPO` (``make colab-cell``); returns the notebooks changed.
    """
    import nbformat

    changed = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0] if nb.cells else None
        if first is not None and "colab" in first.metadata.get("tags", []):
            if first.source == FIRST_CELL:
                continue
            first.source = FIRST_CELL
        else:
            cell = nbformat.v4.new_code_cell(FIRST_CELL, metadata={"tags": ["colab"]})
            cell.id = "colab-setup"
            nb.cells.insert(0, cell)
        nbformat.write(nb, path)
        changed.append(path)
    return changed


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "notebooks"
    for done in write_first_cells(target):
        print(f"wrote the Colab cell into {done}")
