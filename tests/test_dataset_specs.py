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
