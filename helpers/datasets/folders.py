"""Class-per-folder image datasets: listing, checking and labelling the files.

``keras.utils.image_dataset_from_directory`` stops with a decode error at the first
damaged file it meets mid-epoch, and cannot skip it. Here every file is decoded once,
before training, by :func:`decode_rgb`: the very TensorFlow call the ``tf.data``
pipeline (:mod:`helpers.pipeline`) makes, so a file that passes here cannot stop an
epoch half-way. A file is skipped, with its reason recorded, when it is empty, larger
than :data:`MAX_FILE_BYTES`, not an image, declares more than :data:`MAX_PIXELS`
pixels, is in a format TensorFlow does not decode, fails TensorFlow's decoder (bad CRC,
missing end chunk, truncated data, 1-bit BMP), or is a BMP that TensorFlow decodes to
other colours than the file holds (palette BMPs come out black). Images inside
sub-folders of a class folder are not loaded and are reported as skipped. Class order is
alphanumeric, as in Keras.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataFormatError
from .base import Dataset, FileSplit
from .spec import DatasetSpec

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})
# Formats that tf.io.decode_image reads (TensorFlow 2.21); the others Pillow opens are refused.
_TF_FORMATS = frozenset({"JPEG", "PNG", "BMP", "GIF", "MPO", "WEBP"})
MAX_PIXELS = 25_000_000
"""Most pixels (width x height) an image may declare: 25 MP, about 75 MB once decoded.
The suite's datasets hold images of at most 0.25 MP."""
MAX_FILE_BYTES = 128 << 20
"""Largest image file read (128 MiB)."""
_BMP_TOLERANCE = 2.0  # mean |TensorFlow - Pillow| grey levels allowed for a BMP


def decode_rgb(raw: Any) -> Any:
    """Decode encoded image bytes to a uint8 ``(H, W, 3)`` tensor, as the pipeline does.

    JPEG (also CMYK), PNG, BMP, GIF (first frame) and WebP; grayscale is expanded to RGB.
    Works eagerly and inside ``tf.data`` maps.
    """
    import tensorflow as tf

    return tf.io.decode_image(raw, channels=3, expand_animations=False)


def _tf_decode(data: bytes) -> tuple[np.ndarray | None, str | None]:
    import tensorflow as tf

    try:
        return decode_rgb(data).numpy(), None
    except (tf.errors.OpError, ValueError) as exc:
        message = getattr(exc, "message", str(exc)).split("}}")[-1].strip()
        return None, message[:200]


def check_image(source: str | Path | bytes) -> str | None:
    """Return None if the pipeline will decode the image, else the reason it will not.

    ``source`` is a path or the file's bytes (as read from an archive). The image is decoded
    with :func:`decode_rgb`, TensorFlow's decoder as the pipeline calls it, after its header
    has been checked against :data:`MAX_PIXELS` (so a small file declaring a huge image is
    never decoded).
    """
    if isinstance(source, bytes):
        data = source
    else:
        size = Path(source).stat().st_size
        if size > MAX_FILE_BYTES:
            return f"file of {size} bytes, more than the limit of {MAX_FILE_BYTES} bytes"
        data = Path(source).read_bytes()
    if not data:
        return "empty file (0 bytes)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt, mode, (width, height) = im.format, im.mode, im.size
    except Image.DecompressionBombError:
        return f"declares more than {MAX_PIXELS} pixels (refused before decoding)"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"not a readable image ({type(exc).__name__}: {exc})"
    if width * height > MAX_PIXELS:
        return (
            f"declares {width} x {height} = {width * height} pixels, more than the limit of "
            f"{MAX_PIXELS} (refused before decoding)"
        )
    if width * height == 0:
        return f"declares {width} x {height} pixels: no image"
    if fmt not in _TF_FORMATS:
        return f"format {fmt} is not one TensorFlow decodes (it reads JPEG, PNG, BMP, GIF, WebP)"
    pixels, error = _tf_decode(data)
    if pixels is None:
        return f"not a readable image (TensorFlow's {fmt} decoder fails: {error})"
    if pixels.shape[:2] != (height, width):
        got = f"{pixels.shape[1]} x {pixels.shape[0]}"
        return f"TensorFlow decodes it as {got} pixels, its header says {width} x {height}"
    if fmt == "BMP":
        return _check_bmp(data, pixels, mode)
    return None


def _check_bmp(data: bytes, pixels: np.ndarray, mode: str) -> str | None:
    """TensorFlow ignores BMP palettes and bit fields: compare its pixels with Pillow's."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            truth = np.asarray(im.convert("RGB"), dtype=np.int16)
    except (OSError, ValueError, SyntaxError) as exc:
        return f"not a readable image ({type(exc).__name__}: {exc})"
    diff = float(np.abs(pixels.astype(np.int16) - truth).mean())
    if diff > _BMP_TOLERANCE:
        return (
            f"BMP in mode {mode} (palette or fewer than 24 bits per pixel) that TensorFlow "
            f"decodes to wrong colours (off by {diff:.0f} grey levels on average); save it "
            "as PNG or 24-bit BMP"
        )
    return None


def nested_images(folder: Path) -> list[str]:
    """Image files inside sub-folders of ``folder`` (which the loaders do not read)."""
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        for dirpath, dirnames, filenames in os.walk(sub):
            dirnames.sort()
            found += [
                str(Path(dirpath) / f)
                for f in sorted(filenames)
                if Path(f).suffix.lower() in IMAGE_SUFFIXES
            ]
    return found


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
        skipped += [
            (
                f,
                "in a sub-folder of the class folder; only images directly inside "
                f"{root / name} are loaded",
            )
            for f in nested_images(root / name)
        ]
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


def folder_spec(
    name: str,
    splits: tuple[str, ...],
    class_names: list[str],
    synthetic_size: tuple[int, int],
    layout: str,
    how_to_get: str,
    *,
    fetch: Callable[[bool], Path | None] | None = None,
    url: str | None = None,
    title: str = "",
    official_images: dict[str, int] | None = None,
    note: str = "",
) -> DatasetSpec:
    """The spec of a ``<split>/<class>/<image>`` dataset: every split folder must exist."""

    def looks_valid(folder: Path) -> bool:
        return all((folder / s).is_dir() for s in splits)

    def read(folder: Path, limit_per_class: int | None, validate: bool, seed: int) -> Dataset:
        return load_folder_dataset(name, folder, splits, limit_per_class=limit_per_class,
                                   validate=validate, seed=seed)

    def synthetic(limit_per_class: int | None, validate: bool, seed: int) -> Dataset:
        return synthetic_folder_dataset(name, class_names, splits, synthetic_size,
                                        limit_per_class=limit_per_class, validate=validate,
                                        seed=seed)

    return DatasetSpec(name, layout, how_to_get, looks_valid, read, synthetic, fetch, url,
                       title, official_images, note)
