"""Architectural Heritage Elements (AHE) Image64: ten classes of 64 x 64 photos.

Layout, as the dataset is distributed::

    ahe/train/<class>/*.jpg   ahe/test/<class>/*.jpg

with the classes altar, apse, bell_tower, column, dome(inner), dome(outer),
flying_buttress, gargoyle, stained_glass and vault. There is no stable direct
download URL, so the loader explains where to get it when it is missing.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataNotFoundError
from .base import Dataset, find_dataset_dir, missing_message, search_roots
from .folders import load_folder_dataset, synthetic_folder_dataset

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


def _looks_valid(folder: Path) -> bool:
    return all((folder / s).is_dir() for s in SPLITS)


def load_ahe(
    path: str | Path | None = None,
    *,
    limit_per_class: int | None = None,
    validate: bool = True,
    allow_synthetic: bool = False,
    seed: int = 0,
) -> Dataset:
    """Load AHE as a :class:`Dataset` of files with ``train`` and ``test`` splits.

    Every file is decoded once; unreadable ones are skipped and listed in
    ``Dataset.skipped``.

    Raises:
        DataNotFoundError: no ``ahe/train`` and ``ahe/test`` folders were found.
        DataFormatError: a class folder is empty or the two splits disagree on classes.
    """
    folder = find_dataset_dir(NAME, path, _looks_valid, LAYOUT, HOW_TO_GET)
    if folder is None:
        if not allow_synthetic:
            raise DataNotFoundError(
                missing_message(NAME, search_roots(path, NAME), LAYOUT, HOW_TO_GET)
            )
        return synthetic_folder_dataset(
            NAME,
            CLASS_NAMES,
            SPLITS,
            (64, 64),
            limit_per_class=limit_per_class,
            validate=validate,
            seed=seed,
        )
    return load_folder_dataset(
        NAME, folder, SPLITS, limit_per_class=limit_per_class, validate=validate, seed=seed
    )
