"""The one loading path: each dataset is declared by a :class:`DatasetSpec`, loaded by :func:`load`.

A spec says what a dataset is on disk (its layout and how to recognise it), how to get it
(the text shown when it is missing; a ``fetch`` where an official download exists), how to
read a found folder and how to make a synthetic stand-in for quick mode offline. Every
loader (``load_gtsrb``, ``load_cifar10``, ...) is :func:`load_dataset` applied to its spec, so
they share one signature, one search order and one missing-data message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataNotFoundError
from .base import Dataset, FileSplit, find_dataset_dir, missing_message, search_roots


@dataclass(frozen=True)
class DatasetSpec:
    """What the loading path needs to know about one dataset.

    Attributes:
        name: folder name under ``DATA_DIR`` (and key of :data:`SPECS`).
        layout: the expected files, shown when the dataset is missing.
        how_to_get: where the data comes from, shown when the dataset is missing.
        looks_valid: ``folder -> bool``, whether a folder holds the dataset.
        read: ``(folder, limit_per_class, validate, seed) -> Dataset`` for a found folder.
        synthetic: ``(limit_per_class, validate, seed) -> Dataset``, the quick-mode stand-in.
        fetch: ``download -> folder or None``: a copy in the cache folder, or one built from
            the official download (only when ``download``); raises ``OSError`` when the
            download fails. None where no official download exists.
        url: the official download, where there is one.
        title: the dataset and its provenance in a few words, for reports.
        official_images: images per split in the official release, to tell a report when
            the copy found holds fewer (a subset, or files missing); None where the split is
            not official.
        note: a caveat true of every copy of the dataset, for reports.
    """

    name: str
    layout: str
    how_to_get: str
    looks_valid: Callable[[Path], bool]
    read: Callable[[Path, int | None, bool, int], Dataset]
    synthetic: Callable[[int | None, bool, int], Dataset]
    fetch: Callable[[bool], Path | None] | None = None
    url: str | None = None
    title: str = ""
    official_images: dict[str, int] | None = None
    note: str = ""

    def missing(self, path: str | Path | None, failure: str = "") -> DataNotFoundError:
        """The error for a dataset found nowhere (``failure``: why a download failed)."""
        text = missing_message(self.name, search_roots(path, self.name), self.layout,
                               self.how_to_get)
        return DataNotFoundError(text + (f"\nThe download failed: {failure}" if failure else ""))


def load_dataset(
    spec: DatasetSpec,
    path: str | Path | None = None,
    *,
    download: bool = True,
    limit_per_class: int | None = None,
    validate: bool = True,
    allow_synthetic: bool = False,
    seed: int = 0,
) -> Dataset:
    """Find, fetch or stand in for a dataset, then read it.

    Args:
        spec: the dataset's declaration.
        path: the dataset's folder; None searches ``DATA_DIR`` then ``<repo>/data``, then
            the cache folder and the official download (``spec.fetch``).
        download: allow the official download where one exists (never in quick mode).
        limit_per_class: keep at most this many images per class and split (quick mode).
        validate: decode every image file once and skip those that fail (folder datasets).
        allow_synthetic: when nothing is found, return a labelled synthetic stand-in instead
            of failing (quick mode only; full-mode runs refuse it in ``Run.use``).
        seed: seed of the per-class subsample.

    Raises:
        DataNotFoundError: the data is nowhere (the message says where it looked, the
            expected layout and how to get it); an explicit ``path`` that does not hold it.
        DataFormatError, UnsafePickleError: a file is damaged, malformed or malicious.
    """
    folder = find_dataset_dir(spec.name, path, spec.looks_valid, spec.layout, spec.how_to_get)
    failure: OSError | None = None
    if folder is None and path is None and spec.fetch is not None:
        try:
            folder = spec.fetch(download)
        except OSError as exc:  # offline: the clear error below, or the stand-in
            failure = exc
    if folder is None:
        if allow_synthetic:
            return spec.synthetic(limit_per_class, validate, seed)
        raise spec.missing(path, str(failure or "")) from failure
    return spec.read(folder, limit_per_class, validate, seed)


def copy_notes(spec: DatasetSpec, dataset: Dataset) -> list[str]:
    """What a report should say about the copy read: the dataset's caveat and the splits that
    hold fewer images than the official release, one note per kind of shortfall (a subset, or
    a few files missing), so a caveat shared by several splits is said once."""
    notes = [spec.note] if spec.note else []
    if dataset.synthetic or not spec.official_images:
        return notes
    short: dict[str, list[str]] = {}
    for split, official in spec.official_images.items():
        found = len(dataset.splits[split]) if split in dataset.splits else 0
        if found < official:
            kind = "subset" if found < 0.9 * official else "missing"
            short.setdefault(kind, []).append(f"{split} split holds {found:,} of the official "
                                              f"{official:,} images")
    if "subset" in short:
        notes.append("this copy's " + " and its ".join(short["subset"])
                     + " (a subset: accuracies on it are not directly comparable with "
                     "published full-data figures)")
    if "missing" in short:
        notes.append("this copy's " + " and its ".join(short["missing"]) + " (files missing)")
    return notes


def describe_copy(spec: DatasetSpec, dataset: Dataset) -> str:
    """A report's lines on the copy read: the dataset's title, how many files the loader
    skipped as unreadable (image folders only), then :func:`copy_notes` as bullets, or "the
    full release" when there is nothing to note."""
    files = any(isinstance(s, FileSplit) for s in dataset.splits.values())
    head = spec.title + (f"; files skipped as unreadable: {len(dataset.skipped)}" if files else "")
    notes = copy_notes(spec, dataset)
    if dataset.synthetic:
        notes = ["a synthetic stand-in made because no real copy was found (quick mode only)",
                 *notes]
    notes = notes or ["the full release"]
    return head + "".join(f"\n- {n}" for n in notes)
