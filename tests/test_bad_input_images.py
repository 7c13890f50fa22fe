"""Bad image files: skipped and reported with a true reason, so an epoch never dies half-way.

Every file is made in ``tmp_path``. The loaders must skip what TensorFlow's decoder (the
one the pipeline uses) cannot read or misreads, keep what it reads, leave the input
folder unchanged and write nothing; the pipeline built from what was kept must run a
whole epoch.
"""

from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest
from bad_input_tools import snapshot
from conftest import write_image
from PIL import Image

from helpers.datasets import build_small_split, check_image, load_ahe
from helpers.datasets.folders import MAX_PIXELS
from helpers.pipeline import to_tf_dataset

RNG = np.random.default_rng(0)
PIXELS = RNG.integers(0, 255, (30, 40, 3), dtype=np.uint8)


def _encoded(fmt: str, mode: str = "RGB", **kw) -> bytes:
    image = Image.fromarray(PIXELS)
    if mode == "P":
        image = image.convert("P", palette=Image.ADAPTIVE, colors=16)
    elif mode != "RGB":
        image = image.convert(mode)
    out = io.BytesIO()
    image.save(out, format=fmt, **kw)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_declaring(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header declares ``width`` x ``height`` grey pixels."""
    rows = zlib.compress(b"\0" * (200_000), 9)  # only the start of the data: never decoded
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")
    )


def _bad_crc_png() -> bytes:
    data = bytearray(_encoded("PNG"))
    data[data.index(b"IDAT") + 10] ^= 0xFF
    return bytes(data)


def _no_iend_png() -> bytes:
    data = _encoded("PNG")
    return data[: data.index(b"IEND") - 4]


BAD = {
    "bad_crc.png": (_bad_crc_png, "TensorFlow's PNG decoder fails"),
    "no_end.png": (_no_iend_png, "TensorFlow's PNG decoder fails"),
    "one_bit.bmp": (lambda: _encoded("BMP", "1"), "TensorFlow's BMP decoder fails"),
    "palette.bmp": (lambda: _encoded("BMP", "P"), "wrong colours"),
    "huge.png": (lambda: _png_declaring(13_000, 13_000), f"limit of {MAX_PIXELS}"),
    "tiff.png": (lambda: _encoded("TIFF"), "format TIFF is not one TensorFlow decodes"),
    "text.jpg": (lambda: b"no image here", "not a readable image"),
    "empty.gif": (lambda: b"", "0 bytes"),
}
GOOD = {
    "cmyk.jpg": lambda: _encoded("JPEG", "CMYK", quality=95),
    "lossless.webp": lambda: _encoded("WEBP", lossless=True),
    "gray.bmp": lambda: _encoded("BMP", "L"),
    "rgb.bmp": lambda: _encoded("BMP"),
    "palette.png": lambda: _encoded("PNG", "P"),
    "frame.gif": lambda: _encoded("GIF", "P"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_file_has_a_true_reason(tmp_path, name):
    make, words = BAD[name]
    path = tmp_path / name
    path.write_bytes(make())
    start = time.perf_counter()
    reason = check_image(path)
    assert reason is not None and words in reason, reason
    assert time.perf_counter() - start < 3  # the 13 000 x 13 000 header is never decoded


@pytest.mark.parametrize("name", sorted(GOOD))
def test_valid_images_are_kept_and_decode_to_their_colours(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(GOOD[name]())
    assert check_image(path) is None
    assert check_image(path.read_bytes()) is None


@pytest.fixture
def tree(tmp_path):
    """ahe-like train/test folders: two classes, every bad and good file in train/a."""
    root = tmp_path / "ahe"
    for split in ("train", "test"):
        for cls in ("a", "b"):
            (root / split / cls).mkdir(parents=True)
            write_image(root / split / cls / "ok.jpg")
    for name, (make, _) in BAD.items():
        (root / "train" / "a" / name).write_bytes(make())
    for name, make in GOOD.items():
        (root / "train" / "a" / name).write_bytes(make())
    nested = root / "train" / "b" / "extra" / "deeper"
    nested.mkdir(parents=True)
    write_image(nested / "hidden_away.jpg")
    return root


def test_loader_skips_reports_and_pipeline_runs_a_whole_epoch(tree, isolated):
    before = snapshot(tree.parent)
    d = load_ahe(tree)
    reasons = {p.rsplit("/", 1)[1]: r for p, r in d.skipped}
    assert set(reasons) == set(BAD) | {"hidden_away.jpg"}
    for name, (_, words) in BAD.items():
        assert words in reasons[name], (name, reasons[name])
    assert "sub-folder" in reasons["hidden_away.jpg"]
    kept = sorted(p.rsplit("/", 1)[1] for p in d["train"].paths)
    assert kept == sorted([*GOOD, "ok.jpg", "ok.jpg"])
    batches = list(to_tf_dataset(d["train"], batch_size=4, image_size=(16, 16)))
    assert sum(len(x) for x, _ in batches) == len(kept)
    assert snapshot(tree.parent) == before  # input unchanged, nothing written beside it
    assert list(isolated["cache"].iterdir()) == []


def test_pipeline_colours_match_the_files(tmp_path):
    from helpers.pipeline import decode_resize

    for name in ("cmyk.jpg", "lossless.webp", "gray.bmp", "palette.png"):
        path = tmp_path / name
        path.write_bytes(GOOD[name]())
        got = decode_resize(str(path), (30, 40)).numpy()
        with Image.open(path) as im:
            want = np.asarray(im.convert("RGB"), dtype=np.float32)
        assert np.abs(got - want).mean() < 3, name


def test_cats_dogs_zip_with_damaged_members_is_skipped_not_fatal(tmp_path):
    good, odd = _encoded("JPEG"), _encoded("JPEG", quality=50)
    archive = tmp_path / "kagglecatsanddogs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for cls in ("Cat", "Dog"):
            for i in range(4):
                zf.writestr(f"PetImages/{cls}/{i}.jpg", odd if (cls, i) == ("Cat", 1) else good)
    data = bytearray(archive.read_bytes())
    data[data.index(odd) + len(odd) // 2] ^= 0xFF  # bad CRC in PetImages/Cat/1.jpg
    archive.write_bytes(bytes(data))
    zipped = archive.read_bytes()
    report = build_small_split(archive, tmp_path / "out", {"train": 1, "validation": 1, "test": 1})
    assert [(n.rsplit(":", 1)[1], r.split(" (")[0]) for n, r in report.skipped] == [
        ("PetImages/Cat/1.jpg", "damaged archive member")
    ]
    written = sorted(
        str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.jpg")
    )
    assert written == [
        "test/cats/cat.3.jpg",
        "test/dogs/dog.2.jpg",
        "train/cats/cat.0.jpg",
        "train/dogs/dog.0.jpg",
        "validation/cats/cat.2.jpg",
        "validation/dogs/dog.1.jpg",
    ]
    assert archive.read_bytes() == zipped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kagglecatsanddogs.zip", "out"]
