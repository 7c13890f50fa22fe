"""Class-per-folder image datasets: listing, checking and labelling the files.

``keras.utils.image_dataset_from_directory`` stops with a decode error at the first
damaged file it meets mid-epoch, and cannot skip it. Here every file is opened
and fully decoded once with Pillow before training; zero-byte, truncated and
undecodable files are left out and reported, so the ``tf.data`` pipeline that
follows (:mod:`helpers.pipeline`) only ever sees images it can read. Class order
is alphanumeric, as in Keras.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataFormatError
from .base import Dataset, FileSplit

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif"})
# Formats that tf.io.decode_image reads; the others Pillow opens are refused.
_TF_FORMATS = frozenset({"JPEG", "PNG", "BMP", "GIF", "MPO"})


def check_image(source: str | Path | bytes) -> str | None:
    """Return None if TensorFlow will be able to decode the image, else the reason it cannot.

    ``source`` is a path or the file's bytes (as read from an archive).
    """
    try:
        if isinstance(source, bytes):
            if not source:
                return "empty file (0 bytes)"
            opened = Image.open(io.BytesIO(source))
        else:
            if Path(source).stat().st_size == 0:
                return "empty file (0 bytes)"
            opened = Image.open(source)
        with opened as im:
            fmt, mode = im.format, im.mode
            im.load()
    except Image.DecompressionBombError as exc:
        return f"refused as a decompression bomb ({exc})"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"not a readable image ({type(exc).__name__}: {exc})"
    if fmt not in _TF_FORMATS:
        return f"format {fmt} is not one TensorFlow decodes"
    if fmt == "JPEG" and mode == "CMYK":
        return "CMYK JPEG, which TensorFlow does not decode"
    return None


def list_class_folders(root: Path) -> list[str]:
    """Sub-folder names of ``root``, sorted alphanumerically (hidden ones ignored)."""
    if not root.is_dir():
        raise DataFormatError(f"{root} is not a folder")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_split(
    root: Path,
    class_names: list[str] | None = None,
    *,
    validate: bool = True,
    limit_per_class: int | None = None,
    seed: int = 0,
    workers: int = 4,
) -> tuple[FileSplit, list[str], list[tuple[str, str]]]:
    """List the images of one split folder laid out as ``root/<class>/<image>``.

    Args:
        root: the split folder.
        class_names: expected classes (e.g. those of the training split); None takes the
            sub-folders of ``root``.
        validate: decode every file once and skip those that fail.
        limit_per_class: keep at most this many files per class (drawn with ``seed``
            before validation, for quick mode); None keeps all.
        workers: threads used for validation.

    Returns:
        The split, its class names and the ``(path, reason)`` of every skipped file.

    Raises:
        DataFormatError: no class folders, a class folder missing, or a class with
            no readable image.
    """
    found = list_class_folders(root)
    if not found:
        raise DataFormatError(f"{root} has no class sub-folders (expected {root}/<class>/<image>)")
    if class_names is None:
        class_names = found
    else:
        missing = sorted(set(class_names) - set(found))
        extra = sorted(set(found) - set(class_names))
        if missing or extra:
            raise DataFormatError(
                f"{root}: class folders differ from the expected classes "
                f"(missing {missing}, unexpected {extra})"
            )
    rng = np.random.default_rng(seed)
    paths: list[str] = []
    labels: list[int] = []
    skipped: list[tuple[str, str]] = []
    for label, name in enumerate(class_names):
        files = sorted(
            str(p)
            for p in (root / name).iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
        if limit_per_class is not None and len(files) > limit_per_class:
            files = sorted(rng.permutation(files)[:limit_per_class].tolist())
        if validate:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                reasons = list(pool.map(check_image, files))
            good = [f for f, r in zip(files, reasons, strict=True) if r is None]
            skipped += [(f, r) for f, r in zip(files, reasons, strict=True) if r is not None]
        else:
            good = files
        if not good:
            raise DataFormatError(
                f"class folder {root / name} has no readable image "
                f"({len(files)} candidate files); every class needs at least one"
            )
        paths += good
        labels += [label] * len(good)
    return FileSplit(paths, np.asarray(labels, dtype=np.int64)), class_names, skipped


def load_folder_dataset(
    name: str,
    folder: Path,
    splits: tuple[str, ...],
    *,
    limit_per_class: int | None,
    validate: bool,
    seed: int,
    synthetic: bool = False,
) -> Dataset:
    """Read a ``<split>/<class>/<image>`` tree; the first split fixes the class list."""
    parts, skipped, class_names = {}, [], None
    for split in splits:
        part, class_names, bad = scan_split(
            folder / split,
            class_names,
            validate=validate,
            limit_per_class=limit_per_class,
            seed=seed,
        )
        parts[split] = part
        skipped += bad
    return Dataset(
        name,
        list(class_names or []),
        parts,
        "synthetic" if synthetic else str(folder),
        synthetic=synthetic,
        skipped=skipped,
    )


def synthetic_folder_dataset(
    name: str,
    class_names: list[str],
    splits: tuple[str, ...],
    image_size: tuple[int, int],
    *,
    limit_per_class: int | None,
    validate: bool,
    seed: int,
) -> Dataset:
    """Write (once) and read a labelled synthetic ``<split>/<class>`` tree in the cache.

    The first split gets ``limit_per_class`` images per class (10 if None), the others half.
    """
    from ..config import cache_dir
    from .synthetic import warn_synthetic, write_synthetic_folder

    warn_synthetic(name)
    n = limit_per_class or 10
    per_split = {s: n if i == 0 else max(2, n // 2) for i, s in enumerate(splits)}
    folder = write_synthetic_folder(
        cache_dir() / "synthetic" / name, class_names, per_split, image_size
    )
    return load_folder_dataset(
        name,
        folder,
        splits,
        limit_per_class=limit_per_class,
        validate=validate,
        seed=seed,
        synthetic=True,
    )
