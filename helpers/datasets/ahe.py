"""Architectural Heritage Elements (AHE) Image64: ten classes of 64 x 64 photos.

Layout, as the dataset is distributed::

    ahe/train/<class>/*.jpg   ahe/test/<class>/*.jpg

with the classes altar, apse, bell_tower, column, dome(inner), dome(outer),
flying_buttress, gargoyle, stained_glass and vault. There is no stable direct
download URL, so the loader explains where to get it when it is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Dataset
from .folders import folder_spec
from .spec import load_dataset

NAME = "ahe"
SPLITS = ("train", "test")
CLASS_NAMES = [
    "altar",
    "apse",
    "bell_tower",
    "column",
    "dome(inner)",
    "dome(outer)",
    "flying_buttress",
    "gargoyle",
    "stained_glass",
    "vault",
]
LAYOUT = "  ahe/train/<class>/*.jpg and ahe/test/<class>/*.jpg (10 class folders each)"
HOW_TO_GET = (
    "the 'Architectural Heritage Elements Image64' dataset of Llamas et al. (2017), published "
    "on Kaggle and on the authors' page; unpack it so that train/ and test/ sit in ahe/."
)


SPEC = folder_spec(NAME, SPLITS, CLASS_NAMES, (64, 64), LAYOUT, HOW_TO_GET,
                   title="Architectural Heritage Elements Image64 (Llamas et al. 2017)",
                   official_images={"train": 10_235, "test": 1_404})


def load_ahe(path: str | Path | None = None, **options: Any) -> Dataset:
    """Load AHE as a :class:`Dataset` of files with ``train`` and ``test`` splits.

    Every file is decoded once; unreadable ones are skipped and listed in
    ``Dataset.skipped``. ``options`` are those of :func:`helpers.datasets.spec.load_dataset`.

    Raises:
        DataNotFoundError: no ``ahe/train`` and ``ahe/test`` folders were found.
        DataFormatError: a class folder is empty or the two splits disagree on classes.
    """
    return load_dataset(SPEC, path, **options)
