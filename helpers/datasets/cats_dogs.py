"""Kaggle Dogs vs. Cats, in the small 1000/500/500-per-class split of the CS 577 handout.

Layout read (the ``cats_and_dogs_small`` folders of *Deep Learning with Python*)::

    cats_dogs/{train,validation,test}/{cats,dogs}/*.jpg

When that folder is absent it is built in the cache folder from the official
Microsoft archive (``kagglecatsanddogs_*.zip`` with ``PetImages/Cat`` and
``PetImages/Dog``, or the extracted ``PetImages`` folder), downloading the
archive if needed. The archive holds some zero-byte and undecodable files; they
are skipped, counted and reported, and the split takes the next good images in
file-number order.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import cache_dir, default_data_dirs
from ..download import download_file
from ..errors import ArchiveError, DataFormatError
from .base import Dataset
from .folders import MAX_FILE_BYTES, check_image, folder_spec
from .spec import load_dataset

NAME = "cats_dogs"
SPLITS = ("train", "validation", "test")
SPLIT_SIZES = {"train": 1000, "validation": 500, "test": 500}  # per class
URL = (
    "https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/"
    "kagglecatsanddogs_3367a.zip"
)
SHA256 = "f9553e426bd725354ed3a27e3c6920caadb55c835d1ebd880d2e56d3f1fbb22b"
SOURCE_CLASSES = {"Cat": "cats", "Dog": "dogs"}
LAYOUT = (
    "  cats_dogs/{train,validation,test}/{cats,dogs}/*.jpg (1000/500/500 images per class),\n"
    "  or the official kagglecatsanddogs_*.zip / its PetImages/{Cat,Dog} folder, from which\n"
    "  that split is built"
)
HOW_TO_GET = f"the Microsoft download of Kaggle's Dogs vs. Cats images: {URL} (787 MiB)"
_NUMBER = re.compile(r"(\d+)")


@dataclass
class BuildReport:
    """What :func:`build_small_split` did: images written and files skipped."""

    written: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"built the cats/dogs split ({sum(self.written.values())} images); skipped "
            f"{len(self.skipped)} corrupt or empty files"
        )


def _order(name: str) -> tuple[int, str]:
    m = _NUMBER.search(Path(name).stem)
    return (int(m.group(1)) if m else 1 << 60, name)


def _iter_source(source: Path, cls: str) -> Iterator[tuple[str, bytes | str]]:
    """Yield ``(name, bytes)`` of one class's files from the zip or the PetImages folder.

    A member that cannot be read (bad CRC, damaged data, larger than
    :data:`~helpers.datasets.folders.MAX_FILE_BYTES`) is yielded with the reason as a str.
    """
    if source.is_dir():
        folder = source / cls if (source / cls).is_dir() else source / "PetImages" / cls
        for p in sorted((q for q in folder.iterdir() if q.is_file()), key=lambda q: _order(q.name)):
            if p.suffix.lower() in (".jpg", ".jpeg"):
                size = p.stat().st_size
                yield str(p), p.read_bytes() if size <= MAX_FILE_BYTES else f"{size} bytes"
        return
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{source} is not a readable zip archive ({exc})") from exc
    with zf:
        members = [
            i
            for i in zf.infolist()
            if not i.is_dir()
            and Path(i.filename).parent.name == cls
            and Path(i.filename).suffix.lower() in (".jpg", ".jpeg")
        ]
        for info in sorted(members, key=lambda i: _order(i.filename)):
            name = f"{source}:{info.filename}"
            if info.file_size > MAX_FILE_BYTES:
                yield name, f"member of {info.file_size} bytes, more than {MAX_FILE_BYTES}"
                continue
            try:
                yield name, zf.read(info)
            except (
                zipfile.BadZipFile,
                zlib.error,
                EOFError,
                NotImplementedError,
                RuntimeError,
            ) as exc:
                yield name, f"damaged archive member ({type(exc).__name__}: {exc})"


def build_small_split(
    source: str | Path, dest: str | Path, sizes: dict[str, int] | None = None
) -> BuildReport:
    """Build ``dest/{train,validation,test}/{cats,dogs}`` from the official images.

    Files are taken in file-number order; zero-byte and undecodable ones are skipped.
    The tree is written to a temporary folder and renamed into place at the end, so
    an interrupted build leaves nothing half-made.

    Raises:
        DataFormatError: the source has too few readable images of a class.
    """
    source, dest = Path(source), Path(dest)
    sizes = sizes or SPLIT_SIZES
    need = sum(sizes.values())
    staging = dest.with_name(dest.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    report = BuildReport()
    try:
        for src_cls, cls in SOURCE_CLASSES.items():
            good: list[tuple[str, bytes]] = []
            for name, data in _iter_source(source, src_cls):
                reason = data if isinstance(data, str) else check_image(data)
                if reason is None:
                    good.append((name, data))  # type: ignore[arg-type]
                else:
                    report.skipped.append((name, reason))
                if len(good) == need:
                    break
            if len(good) < need:
                raise DataFormatError(
                    f"{source}: only {len(good)} readable {src_cls} images, {need} needed"
                )
            start = 0
            for split, n in sizes.items():
                out = staging / split / cls
                out.mkdir(parents=True, exist_ok=True)
                for name, data in good[start : start + n]:
                    number = _order(name)[0]
                    (out / f"{cls[:-1]}.{number}.jpg").write_bytes(data)
                report.written[f"{split}/{cls}"] = n
                start += n
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _find_official_source() -> Path | None:
    for root in [*default_data_dirs(), cache_dir()]:
        for candidate in [root / "PetImages", *sorted(root.glob("kagglecatsanddogs*.zip"))]:
            if candidate.exists():
                return candidate
    return None


def _fetch(download: bool) -> Path | None:
    """The split built in the cache folder; built first from the official images (a local
    ``PetImages`` folder or archive, else the download when allowed) if it is not there."""
    built = cache_dir() / NAME
    if SPEC.looks_valid(built):
        return built
    source = _find_official_source()
    if source is None and download:
        source = download_file(URL, cache_dir() / Path(URL).name, SHA256)
    if source is None:
        return None
    print(build_small_split(source, built))
    return built


SPEC = folder_spec(NAME, SPLITS, list(SOURCE_CLASSES.values()), (128, 128), LAYOUT, HOW_TO_GET,
                   fetch=_fetch, url=URL,
                   title="Dogs vs. Cats (Microsoft/Kaggle), a 1000/500/500-per-class split",
                   official_images={"train": 2_000, "validation": 1_000, "test": 1_000},
                   note="the Kaggle photos come in many sizes (up to 500 px on a side); every "
                        "pipeline resizes them to one square input")


def load_cats_dogs(path: str | Path | None = None, **options: Any) -> Dataset:
    """Load the cats-vs-dogs split (1000/500/500 images per class) as a :class:`Dataset`.

    ``path`` is a ``cats_dogs`` folder with ``train``/``validation``/``test``; without one,
    the split is built in the cache folder from the official images (787 MiB, downloaded
    unless ``download=False``). ``options`` are those of
    :func:`helpers.datasets.spec.load_dataset`.
    """
    return load_dataset(SPEC, path, **options)
