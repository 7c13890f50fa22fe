"""Image folders: damaged, empty, grayscale, PNG and CMYK files, empty and mismatched classes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import truncated_jpeg, write_image

from helpers.datasets import check_image, load_ahe, scan_split
from helpers.datasets.folders import load_folder_dataset
from helpers.errors import DataFormatError, DataNotFoundError


@pytest.fixture
def messy(tmp_path):
    """train/ and test/ with two classes and one of every awkward file in train/a."""
    for split in ("train", "test"):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(3):
                write_image(tmp_path / split / cls / f"ok{i}.jpg", seed=i)
    a = tmp_path / "train" / "a"
    (a / "empty.jpg").write_bytes(b"")
    truncated_jpeg(a / "truncated.jpg")
    (a / "text.jpg").write_text("not an image at all")
    write_image(a / "gray.jpg", mode="L")
    write_image(a / "picture.png", fmt="PNG")
    write_image(a / "cmyk.jpg", mode="CMYK")
    (a / "notes.txt").write_text("ignored: not an image suffix")
    return tmp_path


def test_check_image_reasons(messy):
    a = messy / "train" / "a"
    assert check_image(a / "ok0.jpg") is None
    assert check_image(a / "gray.jpg") is None and check_image(a / "picture.png") is None
    assert "0 bytes" in check_image(a / "empty.jpg")
    assert "not a readable image" in check_image(a / "truncated.jpg")
    assert "not a readable image" in check_image(a / "text.jpg")
    assert check_image(a / "cmyk.jpg") is None  # TensorFlow 2.21 decodes CMYK JPEGs
    assert check_image(b"") == "empty file (0 bytes)"
    assert check_image((a / "ok1.jpg").read_bytes()) is None


def test_scan_skips_and_reports_bad_files(messy):
    split, classes, skipped = scan_split(messy / "train")
    assert classes == ["a", "b"]
    names = sorted(p.rsplit("/", 1)[1] for p in split.paths if "/a/" in p)
    assert names == ["cmyk.jpg", "gray.jpg", "ok0.jpg", "ok1.jpg", "ok2.jpg", "picture.png"]
    assert sorted(p.rsplit("/", 1)[1] for p, _ in skipped) == [
        "empty.jpg",
        "text.jpg",
        "truncated.jpg",
    ]
    assert np.bincount(split.y).tolist() == [6, 3]


def test_pipeline_decodes_grayscale_and_png_as_rgb(messy):
    from helpers.pipeline import to_tf_dataset

    split, _, _ = scan_split(messy / "train")
    x, y = next(iter(to_tf_dataset(split, batch_size=64, image_size=(24, 24))))
    assert x.shape == (9, 24, 24, 3) and x.dtype.name == "float32"
    assert float(x.numpy().max()) <= 255.0


def test_empty_class_folder_is_an_error(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / "train" / cls).mkdir(parents=True)
    write_image(tmp_path / "train" / "a" / "x.jpg")
    with pytest.raises(DataFormatError, match=r"train/b has no readable image"):
        scan_split(tmp_path / "train")


def test_class_folder_of_only_broken_files_is_an_error(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        write_image(tmp_path / "train" / cls / "ok.jpg")
    (tmp_path / "train" / "b" / "ok.jpg").write_bytes(b"")
    with pytest.raises(DataFormatError, match="no readable image"):
        scan_split(tmp_path / "train")


def test_splits_must_share_classes(messy):
    (messy / "test" / "c").mkdir()
    write_image(messy / "test" / "c" / "x.jpg")
    with pytest.raises(DataFormatError, match=r"unexpected \['c'\]"):
        load_folder_dataset(
            "t", messy, ("train", "test"), limit_per_class=None, validate=True, seed=0
        )


def test_folder_without_classes(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataFormatError, match="no class sub-folders"):
        scan_split(tmp_path / "train")


def test_limit_per_class_is_seeded(messy):
    a1, _, _ = scan_split(messy / "test", limit_per_class=2, seed=1)
    a2, _, _ = scan_split(messy / "test", limit_per_class=2, seed=1)
    assert a1.paths == a2.paths and len(a1) == 4


def test_real_ahe(real_data):
    d = load_ahe(real_data / "ahe")
    assert d.class_names == [
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
    assert len(d["train"]) == 10130 and len(d["test"]) == 1404
    assert d.counts()["test"] == [140, 50, 170, 210, 69, 142, 70, 240, 150, 163]
    assert d.skipped == []  # the one grayscale image is readable and kept


def test_missing_ahe_says_where_to_get_it(isolated):
    with pytest.raises(DataNotFoundError, match=r"(?s)ahe/train/<class>.*Llamas"):
        load_ahe()


def test_ahe_synthetic_stand_in_only_when_allowed(isolated):
    with pytest.warns(UserWarning, match="SYNTHETIC"):
        d = load_ahe(allow_synthetic=True, limit_per_class=3)
    assert d.synthetic and d.source == "synthetic" and d.num_classes == 10
    assert d.counts() == {"train": [3] * 10, "test": [2] * 10}
    assert (isolated["cache"] / "synthetic" / "ahe" / "SYNTHETIC.txt").exists()
