"""The one loading path: every dataset's spec, the missing-data message, the run's loader."""

from __future__ import annotations

import pytest

from helpers.datasets import SPECS, load
from helpers.datasets.spec import DatasetSpec, load_dataset
from helpers.errors import DataNotFoundError
from helpers.reporting import start_run

CLASSES = {"cats_dogs": 2, "cifar10": 10, "gtsrb": 43, "ahe": 10}


def test_every_dataset_has_a_spec():
    assert set(SPECS) == set(CLASSES)
    for name, spec in SPECS.items():
        assert spec.name == name and spec.layout.strip() and spec.how_to_get.strip()
    # an official download exists for exactly these two
    assert {n for n, s in SPECS.items() if s.fetch} == {"cats_dogs", "cifar10"}
    assert all(SPECS[n].url.startswith("https://") for n in ("cats_dogs", "cifar10"))


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_a_missing_dataset_says_where_it_looked_what_to_put_there_and_how_to_get_it(
        name, isolated):
    spec = SPECS[name]
    assert not spec.looks_valid(isolated["data"] / name)
    with pytest.raises(DataNotFoundError) as info:
        load(name, download=False)
    text = str(info.value)
    assert f"The {name} dataset was not found" in text
    assert str(isolated["data"] / name) in text  # where it looked
    assert spec.layout in text and spec.how_to_get in text
    assert "DATA_DIR" in text
    assert not any(isolated["cache"].iterdir())  # nothing written while failing


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_quick_mode_stands_in_with_the_datasets_shape(name, isolated):
    """(A download attempt would also fail the test: the network guard refuses it.)"""
    ds = load(name, quick=True, limit_per_class=3)
    assert ds.synthetic and ds.name == name and ds.num_classes == CLASSES[name]
    assert all(len(part) > 0 for part in ds.splits.values())


def test_an_explicit_folder_without_the_data_is_an_error_even_in_quick_mode(tmp_path):
    with pytest.raises(DataNotFoundError, match="gtsrb"):
        load("gtsrb", tmp_path / "nothing-here", quick=True)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="cats_dogs, cifar10, gtsrb, ahe"):
        load("mnist")


def test_a_failed_download_is_reported_with_its_reason(isolated):
    def fetch(download: bool):
        raise ConnectionError("network unreachable")

    spec = DatasetSpec("toy", "  toy/<files>", "nowhere", lambda f: False,
                       read=None, synthetic=None, fetch=fetch)  # type: ignore[arg-type]
    with pytest.raises(DataNotFoundError, match="(?s)toy/<files>.*download failed: network"):
        load_dataset(spec)


def test_run_load_applies_the_mode_and_records_the_dataset(isolated):
    run = start_run("specs", quick=True, seed=0)
    ds = run.load("gtsrb", limit_per_class=2)
    assert ds.synthetic and "gtsrb" in run.datasets
    full = start_run("specs", quick=False, seed=0)
    with pytest.raises(DataNotFoundError):  # full mode never stands in
        full.load("ahe")


def test_copy_notes_name_a_subset_missing_files_and_the_datasets_caveat():
    import numpy as np

    from helpers.datasets import ArraySplit, Dataset, FileSplit, copy_notes, describe_copy

    def copy(name: str, **sizes: int) -> Dataset:
        splits = {s: ArraySplit(np.zeros((n, 2, 2, 3), "uint8"), np.zeros(n, "int64"))
                  for s, n in sizes.items()}
        return Dataset(name, ["a"], splits, source="made by the test")

    # the official sizes: nothing to say about CIFAR-10, which has no caveat
    assert copy_notes(SPECS["cifar10"], copy("cifar10", train=50_000, test=10_000)) == []
    subset = copy_notes(SPECS["cifar10"], copy("cifar10", train=10_000, test=4_000))
    assert subset == ["this copy's train split holds 10,000 of the official 50,000 images and "
                      "its test split holds 4,000 of the official 10,000 images (a subset: "
                      "accuracies on it are not directly comparable with published full-data "
                      "figures)"]  # the caveat once, for both splits
    missing = copy_notes(SPECS["ahe"], copy("ahe", train=10_130, test=1_404))
    assert missing == ["this copy's train split holds 10,130 of the official 10,235 images "
                       "(files missing)"]
    gtsrb = copy_notes(SPECS["gtsrb"], copy("gtsrb", train=34_799, validation=4_410,
                                            test=12_630))
    assert gtsrb == [SPECS["gtsrb"].note] and "32×32" in gtsrb[0]
    # a synthetic stand-in is not a copy of anything: only the caveat
    stand_in = Dataset("cifar10", ["a"], {}, source="synthetic", synthetic=True)
    assert copy_notes(SPECS["cifar10"], stand_in) == []
    # the report's lines: title, bullets, "the full release" only for a complete real copy
    full = describe_copy(SPECS["cifar10"], copy("cifar10", train=50_000, test=10_000))
    assert full == f"{SPECS['cifar10'].title}\n- the full release"
    assert "10,000 of the official 50,000" in describe_copy(
        SPECS["cifar10"], copy("cifar10", train=10_000, test=4_000))
    assert "synthetic stand-in" in describe_copy(SPECS["cifar10"], stand_in)
    assert "full release" not in describe_copy(SPECS["cifar10"], stand_in)
    files = Dataset("cats_dogs", ["a"], {"train": FileSplit(["x.jpg"], np.zeros(1, "int64"))},
                    source="made by the test", skipped=[("y.jpg", "not a JPEG")])
    assert "files skipped as unreadable: 1" in describe_copy(SPECS["cats_dogs"], files)
