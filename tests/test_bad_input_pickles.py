"""Hostile and malformed pickles: refused with the project's errors, nothing run or allocated.

Every file here is built by hand in ``tmp_path``; each test checks the exception type, that
its message names the file (and the key and expectation where there is one), that no
marker file appeared and that the folder holding the input is unchanged.
"""

from __future__ import annotations

import os
import pickle
import struct
import time

import numpy as np
import pytest
from bad_input_tools import snapshot

from helpers.datasets import load_cifar10, load_gtsrb
from helpers.errors import DataFormatError, UnsafePickleError
from helpers.safe_pickle import load_pickle

RECONSTRUCT = b"cnumpy.core.multiarray\n_reconstruct\n"
NDARRAY = b"cnumpy\nndarray\n"


def _u1(text: str = "u1") -> bytes:
    """Protocol-0 opcodes that push ``numpy.dtype(text)`` with NumPy's usual state."""
    return b"cnumpy\ndtype\n(V" + text.encode() + b"\nI00\nI01\ntR(I3\nV|\nNNNI-1\nI-1\nI0\ntb"


def _array_pickle(shape: bytes, raw: bytes, dtype: bytes | None = None) -> bytes:
    """A protocol-0 pickle of NumPy's reconstruction path with a state of our choosing."""
    return (
        RECONSTRUCT
        + b"("
        + NDARRAY
        + b"(I0\ntC\x01b"  # shape (0,), typecode b"b"
        + b"tR(I1\n"
        + shape
        + (dtype or _u1())
        + b"I00\nC"
        + bytes([len(raw)])
        + raw
        + b"tb."
    )


def _check(path, exc_type, *words):
    """Load ``path`` expecting ``exc_type`` with the file name and ``words`` in the message."""
    folder = path.parent
    before = snapshot(folder)
    start = time.perf_counter()
    with pytest.raises(exc_type) as info:
        load_pickle(path)
    assert time.perf_counter() - start < 5, "refusal took long: something was allocated"
    text = str(info.value)
    assert str(path) in text, text
    for word in words:
        assert word in text, (word, text)
    assert snapshot(folder) == before
    return text


# ------------------------------------------------------------------ what may be called


@pytest.mark.parametrize(
    "args",
    [
        b"(I1000000000\ntR.",  # uninitialised memory, 1 GB
        b"((I2\ntV|u1\nC\x02abI-8\n(I0\nttR.",  # buffer, negative offset, zero stride
    ],
)
def test_direct_call_of_ndarray_is_refused(tmp_path, args):
    path = tmp_path / "train.pickle"
    path.write_bytes(NDARRAY + args)
    _check(path, UnsafePickleError, "numpy.ndarray directly")


def test_reconstruct_of_another_type_is_refused(tmp_path):
    path = tmp_path / "x.pickle"
    path.write_bytes(RECONSTRUCT + b"(ccollections\nOrderedDict\n(I0\ntC\x01btR.")
    _check(path, UnsafePickleError, "numpy.ndarray")


def test_code_execution_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pickle"
    path.write_bytes(b"cposix\nsystem\n(V touch " + str(marker).encode() + b"\ntR.")
    _check(path, UnsafePickleError, "posix.system", "refusing")
    assert not marker.exists()


def test_stored_function_is_not_data(tmp_path):
    path = tmp_path / "fn.pickle"
    path.write_bytes(RECONSTRUCT + b".")
    _check(path, DataFormatError, "not functions")


# ------------------------------------------------------------------ array states


@pytest.mark.parametrize(
    "shape, raw, words",
    [
        (b"(I1000000000000\nt", b"abc", ["needs 1000000000000 bytes", "holds 3"]),
        (b"(I4\nt", b"ab", ["needs 4 bytes", "holds 2"]),
        (b"(I-2\nt", b"", ["shape"]),
        (b"(" + b"I1\n" * 40 + b"t", b"a", ["at most 32"]),
        (b"(I3000000000000000\nI0\nt", b"", ["outside"]),
        (b"(V2\nt", b"ab", ["shape"]),
    ],
)
def test_array_state_is_checked_before_building(tmp_path, shape, raw, words):
    path = tmp_path / "a.pickle"
    path.write_bytes(_array_pickle(shape, raw))
    _check(path, DataFormatError, *words)


@pytest.mark.parametrize(
    "dtype, word",
    [
        (b"cnumpy\ndtype\n(VO8\nI00\nI01\ntR(I3\nV|\nNNNI-1\nI-1\nI63\ntb", "object"),
        (b"cnumpy\ndtype\n(VV8\nI00\nI01\ntR(I3\nV|\nNNNI-1\nI-1\nI0\ntb", "void"),
        (b"cnumpy\ndtype\n(VM8\nI00\nI01\ntR(I3\nV<\nNNNI-1\nI-1\nI0\ntb", "datetime"),
        (b"cnumpy\ndtype\n(Vu1\nI00\nI01\ntR(I3\nV|\nN(Va\nt(dNI-1\nI-1\nI0\ntb", "structured"),
        (b"cnumpy\ndtype\n(VU\nI00\nI01\ntR(I3\nV<\nNNNI3\nI-1\nI0\ntb", "size"),
        (b"cnumpy\ndtype\n(Vu1\nI00\nI01\ntR(I3\nVX\nNNNI-1\nI-1\nI0\ntb", "byte order"),
    ],
)
def test_dtypes_beyond_plain_arrays_are_refused(tmp_path, dtype, word):
    path = tmp_path / "d.pickle"
    path.write_bytes(_array_pickle(b"(I1\nt", b"\x00" * 8, dtype))
    _check(path, DataFormatError, word)


def test_object_array_from_numpy_is_refused(tmp_path):
    path = tmp_path / "o.pickle"
    path.write_bytes(pickle.dumps({"labels": np.array([1, "a", None], dtype=object)}))
    _check(path, DataFormatError, "object")


def test_array_state_given_twice_is_refused(tmp_path):
    blob = _array_pickle(b"(I1\nt", b"a")[:-1]  # drop STOP, BUILD again
    path = tmp_path / "twice.pickle"
    path.write_bytes(blob + b"(I1\n(I1\nt" + _u1() + b"I00\nC\x01atb.")
    _check(path, DataFormatError, "twice")


def test_valid_arrays_load_as_plain_writable_copies(tmp_path):
    arrays = {
        "f": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "view": np.arange(10, dtype=">i4")[::3],
        "s": np.array([b"ab", b"c"]),
        "u": np.array(["é", "xy"]),
        "scalar": np.int16(-3),
    }
    for protocol in (0, 2, 4, 5):
        path = tmp_path / f"ok{protocol}.pickle"
        path.write_bytes(pickle.dumps(arrays, protocol=protocol))
        out = load_pickle(path)
        for key, value in arrays.items():
            assert type(out[key]) is type(value) and out[key].dtype == value.dtype
            np.testing.assert_array_equal(out[key], value)
        assert out["f"].flags.writeable and out["f"].base is None


# ------------------------------------------------------------------ sizes and codecs


@pytest.mark.parametrize("opcode", [b"\x8e", b"\x96"])  # BINBYTES8, BYTEARRAY8
def test_absurd_length_claim_is_refused_before_allocating(tmp_path, opcode):
    path = tmp_path / "huge.pickle"
    path.write_bytes(b"\x80\x05" + opcode + struct.pack("<Q", 1 << 60) + b"abc.")
    _check(path, DataFormatError, "truncated or damaged")


def test_absurd_string_length_is_refused(tmp_path):
    path = tmp_path / "huge_str.pickle"
    path.write_bytes(b"\x80\x02X" + struct.pack("<I", 0xFFFFFFF0) + b"abc.")
    _check(path, DataFormatError, "truncated or damaged")


@pytest.mark.parametrize("codec", [b"no-such-codec", b"zlib", b"utf-16"])
def test_unknown_or_other_codec_is_refused(tmp_path, codec):
    path = tmp_path / "codec.pickle"
    path.write_bytes(
        b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX"
        + bytes([len(codec), 0, 0, 0])
        + codec
        + b"\x86R."
    )
    _check(path, DataFormatError, "codec", "Latin-1")


def test_bytes_with_arguments_is_refused(tmp_path):
    path = tmp_path / "bytes.pickle"
    path.write_bytes(b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x40\x85R.")
    _check(path, DataFormatError, "bytes()")


def test_protocol_2_empty_bytes_loads(tmp_path):
    path = tmp_path / "p2.pickle"
    path.write_bytes(pickle.dumps({"raw": b"", "more": b"\xff\x00", "n": [1]}, protocol=2))
    assert b"__builtin__\nbytes" in path.read_bytes()
    assert load_pickle(path) == {"raw": b"", "more": b"\xff\x00", "n": [1]}


@pytest.mark.parametrize(
    "blob, word",
    [
        (b"", "empty"),
        (b"\x80\x02]", "STOP"),
        (b"\x80\x02" + b"]" * 200_000 + b"a" * 199_999 + b".", "nested too deeply"),
        (b"\x80\x02\xff.", "truncated or damaged"),
    ],
)
def test_damaged_streams(tmp_path, blob, word):
    path = tmp_path / "bad.pickle"
    path.write_bytes(blob)
    _check(path, DataFormatError, word)


# ------------------------------------------------------------------ dataset readers


def _gtsrb(folder, **override):
    folder.mkdir(parents=True, exist_ok=True)
    n = 4
    good = {
        "features": np.zeros((n, 32, 32, 3), np.uint8),
        "labels": np.arange(n) % 3,
        "sizes": np.full((n, 2), 32),
        "coords": np.zeros((n, 4), np.int32),
    }
    for name in ("train.pickle", "valid.pickle", "test.pickle"):
        data = {**good, **override} if name == "valid.pickle" else good
        data = {k: v for k, v in data.items() if v is not ...}
        (folder / name).write_bytes(pickle.dumps(data))
    (folder / "label_names.csv").write_text("ClassId,SignName\n0,a\n1,b\n2,c\n")
    return folder


@pytest.mark.parametrize(
    "override, words",
    [
        ({"labels": np.array([0.0, 1.7, 2.2, 0.5])}, ["'labels'", "integer", "float"]),
        ({"labels": ["0", "1", "2", "0"]}, ["'labels'", "integer"]),
        ({"labels": None}, ["'labels'", "integer", "NoneType"]),
        ({"labels": np.zeros((4, 1), np.int64)}, ["'labels'", "shape (4, 1)"]),
        ({"labels": np.array([True, False, True, False])}, ["'labels'", "integer"]),
        ({"labels": [0, 1, None, 2]}, ["'labels'", "mixed or ragged"]),
        (
            {"features": [np.zeros((32, 32, 3), np.uint8), np.zeros((8, 32, 3), np.uint8)]},
            ["'features'", "ragged"],
        ),
        ({"features": np.zeros((4, 32, 32, 3), np.float32)}, ["'features'", "uint8"]),
        (
            {
                "features": np.zeros((0, 32, 32, 3), np.uint8),
                "labels": np.zeros(0, np.int64),
                "sizes": ...,
                "coords": ...,
            },
            ["'features'", "no pixels"],
        ),
        ({"features": np.zeros((4, 0, 0, 3), np.uint8)}, ["'features'", "no pixels"]),
        ({"labels": np.zeros(3, np.int64)}, ["4 images", "3 'labels'"]),
        ({"sizes": 5}, ["'sizes'", "(4, 2)"]),
        ({"sizes": np.zeros((3, 2))}, ["'sizes'", "(4, 2)"]),
        ({"coords": np.array(["a"] * 16).reshape(4, 4)}, ["'coords'", "numeric"]),
    ],
)
def test_malformed_gtsrb_contents(tmp_path, override, words):
    folder = _gtsrb(tmp_path / "g", **override)
    before = snapshot(tmp_path)
    with pytest.raises(DataFormatError) as info:
        load_gtsrb(folder)
    text = str(info.value)
    assert str(folder / "valid.pickle") in text
    for word in words:
        assert word in text, (word, text)
    assert snapshot(tmp_path) == before


NAMES = [f"class{i}".encode() for i in range(10)]


def _cifar(folder, batch=None, meta=None):
    d = folder / "cifar-10-batches-py"
    d.mkdir(parents=True)
    n = 3
    good = {
        b"labels": [0, 1, 2],
        b"data": np.zeros((n, 3072), np.uint8),
        b"filenames": [b"a.png", b"b.png", b"c.png"],
    }
    (d / "data_batch_1").write_bytes(pickle.dumps({**good, **(batch or {})}, protocol=2))
    (d / "test_batch").write_bytes(pickle.dumps(good, protocol=2))
    (d / "batches.meta").write_bytes(
        pickle.dumps(meta if meta is not None else {b"label_names": NAMES}, protocol=2)
    )
    return d


@pytest.mark.parametrize(
    "batch, meta, file, words",
    [
        ({b"labels": [0.0, 1.5, 2.0]}, None, "data_batch_1", ["'labels'", "integer"]),
        ({b"labels": [0, None, 1]}, None, "data_batch_1", ["'labels'"]),
        ({b"labels": [b"0", b"1", b"2"]}, None, "data_batch_1", ["'labels'", "integer"]),
        ({b"labels": [[0], [1], [2]]}, None, "data_batch_1", ["'labels'", "shape (3, 1)"]),
        ({b"labels": [0, 1]}, None, "data_batch_1", ["3 images", "2 'labels'"]),
        ({b"filenames": [b"a.png"]}, None, "data_batch_1", ["'filenames'", "3 entries"]),
        ({b"filenames": 7}, None, "data_batch_1", ["'filenames'", "list of names"]),
        (
            {b"data": np.zeros((0, 3072), np.uint8), b"labels": []},
            None,
            "data_batch_1",
            ["'data'", "no pixels"],
        ),
        ({b"data": [[1, 2], [3]]}, None, "data_batch_1", ["'data'", "ragged"]),
        (None, {b"label_names": 10}, "batches.meta", ["'label_names'", "list of names"]),
        (None, {b"label_names": []}, "batches.meta", ["'label_names'", "0 entries"]),
        (None, [b"airplane"], "batches.meta", ["expected a dict"]),
    ],
)
def test_malformed_cifar_contents(tmp_path, batch, meta, file, words):
    d = _cifar(tmp_path / "c", batch, meta)
    before = snapshot(tmp_path)
    with pytest.raises(DataFormatError) as info:
        load_cifar10(tmp_path / "c")
    text = str(info.value)
    assert str(d / file) in text
    for word in words:
        assert word in text, (word, text)
    assert snapshot(tmp_path) == before


def test_readers_run_nothing_from_a_hostile_batch(tmp_path):
    d = _cifar(tmp_path / "c")
    marker = tmp_path / "ran"
    (d / "test_batch").write_bytes(
        b"\x80\x02cos\nsystem\nX"
        + struct.pack("<I", len(f"touch {marker}"))
        + f"touch {marker}".encode()
        + b"\x85R."
    )
    with pytest.raises(UnsafePickleError, match="os.system"):
        load_cifar10(tmp_path / "c")
    assert not marker.exists() and not os.path.exists(marker)
