"""Cats vs dogs: the real split, and building it from the official archive's PetImages."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from conftest import truncated_jpeg, write_image

from helpers.datasets import build_small_split, load_cats_dogs
from helpers.errors import DataFormatError, DataNotFoundError

SMALL = {"train": 4, "validation": 2, "test": 2}


def test_real_cats_dogs(real_data):
    d = load_cats_dogs(real_data / "cats_dogs")
    assert d.class_names == ["cats", "dogs"]
    assert d.counts() == {"train": [1000, 1000], "validation": [500, 500], "test": [500, 500]}
    assert d["train"].paths[0].endswith(".jpg") and d.skipped == []


def _pet_images(root, n=10, bad=(2, 5)):
    """A PetImages/{Cat,Dog} tree like the Microsoft archive: numbered files, some broken."""
    for cls in ("Cat", "Dog"):
        folder = root / "PetImages" / cls
        folder.mkdir(parents=True)
        for i in range(n):
            path = folder / f"{i}.jpg"
            if i == bad[0]:
                path.write_bytes(b"")  # zero-byte, as Cat/666.jpg in the real archive
            elif i == bad[1]:
                truncated_jpeg(path)
            else:
                write_image(path, seed=i)
        (folder / "Thumbs.db").write_bytes(b"windows thumbnail cache")
    return root / "PetImages"


def test_build_from_folder_skips_broken_files(tmp_path):
    report = build_small_split(_pet_images(tmp_path / "src"), tmp_path / "out", SMALL)
    assert len(report.skipped) == 4 and "skipped 4" in str(report)
    out = tmp_path / "out"
    cats = sorted(p.name for p in (out / "train" / "cats").iterdir())
    # files 0,1,3,4 (2 is empty) go to train; 6,7 to validation (5 is truncated); 8,9 to test
    assert cats == ["cat.0.jpg", "cat.1.jpg", "cat.3.jpg", "cat.4.jpg"]
    assert sorted(p.name for p in (out / "test" / "dogs").iterdir()) == ["dog.8.jpg", "dog.9.jpg"]
    assert not (tmp_path / "out.building").exists()


def test_build_from_zip(tmp_path):
    src = _pet_images(tmp_path / "src")
    archive = tmp_path / "kagglecatsanddogs_3367a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in src.rglob("*"):
            zf.write(p, p.relative_to(src.parent).as_posix())
    report = build_small_split(archive, tmp_path / "out", SMALL)
    assert report.written == {
        "train/cats": 4,
        "validation/cats": 2,
        "test/cats": 2,
        "train/dogs": 4,
        "validation/dogs": 2,
        "test/dogs": 2,
    }
    assert len(report.skipped) == 4


def test_too_few_readable_images(tmp_path):
    with pytest.raises(DataFormatError, match="only 8 readable Cat images, 20 needed"):
        build_small_split(
            _pet_images(tmp_path / "src"),
            tmp_path / "out",
            {"train": 10, "validation": 5, "test": 5},
        )
    assert not (tmp_path / "out").exists()


def test_loader_builds_into_cache_and_never_writes_into_data_dir(isolated):
    _pet_images(isolated["data"])
    before = sorted(p.relative_to(isolated["data"]) for p in isolated["data"].rglob("*"))
    import helpers.datasets.cats_dogs as cd

    original = cd.SPLIT_SIZES
    cd.SPLIT_SIZES = SMALL
    try:
        d = load_cats_dogs(download=False)
    finally:
        cd.SPLIT_SIZES = original
    assert d.counts() == {"train": [4, 4], "validation": [2, 2], "test": [2, 2]}
    assert d.source == str(isolated["cache"] / "cats_dogs")
    assert sorted(p.relative_to(isolated["data"]) for p in isolated["data"].rglob("*")) == before


def test_nothing_anywhere(isolated):
    with pytest.raises(DataNotFoundError, match="kagglecatsanddogs"):
        load_cats_dogs(download=False)
    with pytest.warns(UserWarning, match="SYNTHETIC"):
        d = load_cats_dogs(download=False, allow_synthetic=True, limit_per_class=4)
    assert d.synthetic and np.bincount(d["train"].y).tolist() == [4, 4]
