"""Load pickled datasets without letting the file run code or claim absurd memory.

``pickle.load`` imports and calls whatever a file names, so a doctored ``train.pickle``
could run any command. The dataset pickles of this suite only need plain NumPy arrays
(numeric, bool or fixed-width string), NumPy scalars and dtypes, and Python builtins
(dict, list, tuple, bytes, str, int, float). :class:`RestrictedUnpickler` therefore
hands the file none of NumPy's own constructors: every global a NumPy pickle names is
mapped to a checking stand-in here.

* ``numpy.ndarray`` is only accepted as the first argument of NumPy's reconstruction
  path (``_reconstruct(ndarray, (0,), b"b")`` followed by the array's state); calling it
  directly, with a buffer, strides or an offset of the file's choosing, is refused.
* An array is built only after its state has been checked: the shape (at most
  :data:`MAX_DIMS` dimensions of at most :data:`MAX_DIM` each), the dtype (no objects,
  no structured or void types), and the raw bytes, whose length must be exactly
  ``prod(shape) * itemsize``. The array then gets its own C-ordered copy of those bytes,
  so it can never view memory outside what the file holds.
* Before anything is built, the opcode stream is scanned once (``pickletools``) over a
  read-only memory map: a length field larger than what is left of the file, an unknown
  opcode or a missing end is refused without allocating.
* ``_codecs.encode`` (how protocol 2 stores bytes) only accepts Latin-1, and
  ``bytes`` (how protocol 2 stores ``b""``) only an empty call.

Every refusal is a :class:`~helpers.errors.UnsafePickleError` (the file asked for code)
or a :class:`~helpers.errors.DataFormatError` (the file is damaged or malformed), with
the file's path in the message.
"""

from __future__ import annotations

import mmap
import pickle
import pickletools
import re
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataFormatError, UnsafePickleError

MAX_DIMS = 32
"""Most dimensions an unpickled array may have."""
MAX_DIM = 1 << 40
"""Largest size of one dimension of an unpickled array."""
MAX_ITEMSIZE = 1 << 16
"""Largest element size in bytes (fixed-width strings included)."""

_LATIN1 = frozenset({"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "l1"})
# dtype specs a plain array can have: bool, integers, floats, complex, fixed-width strings
_DTYPE_SPEC = re.compile(r"^(\?|b1|[iu][1248]|f(2|4|8|16)|c(8|16|32)|[SU]\d{0,6})$")


class _MalformedError(Exception):
    """Raised inside the unpickler; :func:`load_pickle` adds the file name."""


class _UnsafeCallError(Exception):
    """Raised inside the unpickler for a forbidden call; becomes UnsafePickleError."""


def _text(value: Any, what: str) -> str:
    """A str from a str or ASCII bytes (Python 2 pickles read with ``encoding="bytes"``)."""
    if isinstance(value, bytes):
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            raise _MalformedError(f"{what} is not ASCII: {value[:40]!r}") from None
    if isinstance(value, str):
        return value
    raise _MalformedError(f"{what} should be a string, got {type(value).__name__}")


def _raw_bytes(value: Any, what: str) -> bytes | bytearray:
    """Array or scalar data: bytes, or a str holding them as Latin-1 (Python 2 pickles)."""
    if isinstance(value, bytes | bytearray):
        return value
    if isinstance(value, str):
        try:
            return value.encode("latin1")
        except UnicodeEncodeError:
            raise _MalformedError(f"{what} is text beyond Latin-1, not raw bytes") from None
    raise _MalformedError(
        f"{what} should be raw bytes, got {type(value).__name__} (object arrays are not "
        "accepted: a dataset array holds numbers or fixed-width strings)"
    )


class _NDArrayName:
    """What the file gets for ``numpy.ndarray``: a name, usable only by ``_reconstruct``."""

    __hash__ = None  # type: ignore[assignment]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise _UnsafeCallError(
            "refusing to call numpy.ndarray directly: NumPy's own pickles never do, and "
            "a direct call lets the file choose buffer, offset and strides"
        )


_NDARRAY = _NDArrayName()


class _DTypeStub:
    """A dtype named by the file; checked when its state arrives (``BUILD``)."""

    __hash__ = None  # type: ignore[assignment]
    dtype: np.dtype | None = None  # set by __init__ (absent if the file skips it)
    _built = False

    def __init__(self, spec: Any, align: Any = False, copy: Any = True, *extra: Any) -> None:
        if extra:
            raise _MalformedError(f"numpy.dtype called with {2 + len(extra) + 1} arguments")
        text = _text(spec, "dtype spec")
        if not _DTYPE_SPEC.match(text):
            raise _MalformedError(
                f"dtype {text!r} is not a plain numeric, bool or fixed-width string type "
                "(object, structured, void and datetime dtypes are not accepted)"
            )
        if not isinstance(align, bool | int) or not isinstance(copy, bool | int):
            raise _MalformedError("numpy.dtype called with non-boolean align/copy")
        self.dtype = np.dtype(text)
        self._built = False

    def __setstate__(self, state: Any) -> None:
        if self.dtype is None or self._built:
            raise _MalformedError("a dtype received its state twice or without being named")
        self._built = True
        if not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4):
            raise _MalformedError(
                f"dtype state should be a tuple of 8 or 9 items, got {state!r:.80}"
            )
        order = _text(state[1], "dtype byte order")
        subarray, names, fields, elsize = state[2], state[3], state[4], state[5]
        if subarray is not None or names is not None or fields is not None:
            raise _MalformedError("structured or sub-array dtypes are not accepted")
        if len(state) == 9 and state[8] is not None:
            raise _MalformedError("dtypes with metadata are not accepted")
        if order not in ("|", "<", ">", "="):
            raise _MalformedError(f"dtype byte order {order!r} is not one of | < > =")
        if not isinstance(elsize, int) or isinstance(elsize, bool):
            raise _MalformedError(f"dtype element size {elsize!r} is not an integer")
        if self.dtype.kind in "SU" and elsize != -1:
            unit = 4 if self.dtype.kind == "U" else 1
            if not 0 < elsize <= MAX_ITEMSIZE or elsize % unit:
                raise _MalformedError(f"string dtype element size {elsize} is out of range")
            if self.dtype.itemsize not in (0, elsize):
                raise _MalformedError(
                    f"dtype {self.dtype} has element size {self.dtype.itemsize}, "
                    f"its state says {elsize}"
                )
            self.dtype = np.dtype(f"{self.dtype.kind}{elsize // unit}")
        if order in "<>" and self.dtype.itemsize > 1 and self.dtype.kind not in "S":
            self.dtype = self.dtype.newbyteorder(order)

    def resolve(self) -> np.dtype:
        if self.dtype is None:
            raise _MalformedError("a dtype was created without its name")
        if self.dtype.itemsize == 0 or self.dtype.itemsize > MAX_ITEMSIZE:
            raise _MalformedError(f"dtype {self.dtype} has element size {self.dtype.itemsize}")
        return self.dtype


def _dtype_of(value: Any) -> np.dtype:
    if not isinstance(value, _DTypeStub):
        raise _MalformedError(f"expected a NumPy dtype, got {type(value).__name__}")
    return value.resolve()


def _shape_of(value: Any) -> tuple[int, ...]:
    if not isinstance(value, tuple) or len(value) > MAX_DIMS:
        raise _MalformedError(f"array shape should be a tuple of at most {MAX_DIMS} sizes")
    for n in value:
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_DIM:
            raise _MalformedError(f"array shape {value!r:.80} has a size outside 0..{MAX_DIM}")
    return value


def _array_from(raw: Any, dtype: np.dtype, shape: tuple[int, ...], fortran: bool) -> np.ndarray:
    """A new array owning a copy of ``raw``, after checking that the sizes agree exactly."""
    data = _raw_bytes(raw, "array data")
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize != len(data):
        raise _MalformedError(
            f"array of shape {shape} and dtype {dtype} needs {count * dtype.itemsize} bytes, "
            f"the file holds {len(data)}"
        )
    flat = np.frombuffer(data, dtype=dtype) if count else np.empty(0, dtype=dtype)
    return np.array(flat.reshape(shape, order="F" if fortran else "C"), order="C", copy=True)


class _ArrayStub:
    """What ``_reconstruct`` returns: becomes an array once its state has been checked."""

    __hash__ = None  # type: ignore[assignment]
    array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if self.array is not None:
            raise _MalformedError("an array received its state twice")
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _MalformedError("array state should be a tuple of 4 or 5 items")
        if len(state) == 5:
            if state[0] != 1 or isinstance(state[0], bool):
                raise _MalformedError(f"array state version {state[0]!r} is not 1")
            state = state[1:]
        shape, dtype, fortran, raw = state
        if not isinstance(fortran, bool | int) or fortran not in (0, 1):
            raise _MalformedError("array state: the Fortran-order flag is not a boolean")
        self.array = _array_from(raw, _dtype_of(dtype), _shape_of(shape), bool(fortran))

    def resolve(self) -> np.ndarray:
        if self.array is None:
            raise _MalformedError("an array was named but never given its data")
        return self.array


def _reconstruct(subtype: Any, shape: Any, typecode: Any) -> _ArrayStub:
    """NumPy's ``_reconstruct`` as its own pickles call it, and no other way."""
    if subtype is not _NDARRAY:
        raise _UnsafeCallError("_reconstruct may only rebuild numpy.ndarray")
    if shape != (0,) or typecode not in (b"b", "b"):
        raise _MalformedError(f"_reconstruct called with {shape!r:.40}, {typecode!r:.40}")
    return _ArrayStub()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """NumPy's protocol-5 path: ``_frombuffer(bytes, dtype, shape, order)``, checked."""
    if order not in ("C", "F"):
        raise _MalformedError(f"array order {order!r:.20} is not 'C' or 'F'")
    if not isinstance(buf, bytes | bytearray):
        raise _MalformedError(f"array buffer should be bytes, got {type(buf).__name__}")
    return _array_from(buf, _dtype_of(dtype), _shape_of(shape), order == "F")


def _scalar(dtype: Any, raw: Any = None) -> Any:
    """A NumPy scalar from exactly ``itemsize`` bytes."""
    dt = _dtype_of(dtype)
    data = _raw_bytes(raw, "scalar data")
    if len(data) != dt.itemsize:
        raise _MalformedError(
            f"a {dt} scalar needs {dt.itemsize} bytes, the file holds {len(data)}"
        )
    return np.frombuffer(bytes(data), dtype=dt)[0]


def _encode(text: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    """``_codecs.encode`` as protocol 2 uses it for bytes: Latin-1 only."""
    if not isinstance(encoding, str) or encoding.lower() not in _LATIN1:
        raise _MalformedError(
            f"_codecs.encode with codec {encoding!r:.40}: only Latin-1 is accepted (protocol-2 "
            "pickles store bytes that way)"
        )
    if not isinstance(text, str) or errors != "strict":
        raise _MalformedError("_codecs.encode should get a str and no error handler")
    return _raw_bytes(text, "encoded bytes")  # type: ignore[return-value]


def _bytes(*args: Any) -> bytes:
    """``bytes()`` as protocol 2 stores an empty byte string; nothing else."""
    if args:
        raise _MalformedError("bytes() called with arguments; a pickle only stores b'' that way")
    return b""


def _ordered_dict(*args: Any) -> OrderedDict:
    if args and not isinstance(args[0], list | tuple | dict):
        raise _MalformedError("OrderedDict called with something other than pairs")
    return OrderedDict(*args)


# (module, name) -> the stand-in the file gets, across NumPy 1.x and 2.x.
_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DTypeStub,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _encode,
    ("builtins", "bytes"): _bytes,
    ("__builtin__", "bytes"): _bytes,
    ("collections", "OrderedDict"): _ordered_dict,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds plain NumPy arrays and builtin containers.

    Use :func:`load_pickle`, which also checks the opcode stream first and turns the
    stand-ins this class creates into real arrays and dtypes.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _GLOBALS[(module, name)]
        except (KeyError, TypeError):
            raise UnsafePickleError(
                f"refusing to load {module}.{name}: this pickle asks to import code, and a "
                "dataset file needs nothing but NumPy arrays and builtins. Get the file again "
                "from its official source."
            ) from None


def _check_stream(path: Path) -> None:
    """Walk the opcodes once without building anything: lengths must fit in the file."""
    with path.open("rb") as fh:
        if path.stat().st_size == 0:
            raise _MalformedError("the file is empty")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
            last = deque((op for op, _arg, _pos in pickletools.genops(view)), maxlen=1)
            if not last or last[0].name != "STOP":
                raise _MalformedError("the pickle has no end (STOP opcode)")


def _resolve(obj: Any, done: dict[int, Any], active: set[int]) -> Any:
    """Replace the stand-ins by the arrays and dtypes they checked, inside containers."""
    if isinstance(obj, _ArrayStub | _DTypeStub):
        return obj.resolve()
    key = id(obj)
    if key in done:
        return done[key]
    if isinstance(obj, dict):
        done[key] = obj
        for k, v in obj.items():
            obj[k] = _resolve(v, done, active)
        return obj
    if isinstance(obj, list):
        done[key] = obj
        for i, v in enumerate(obj):
            obj[i] = _resolve(v, done, active)
        return obj
    if isinstance(obj, tuple):
        if key in active:
            raise _MalformedError("a tuple contains itself")
        active.add(key)
        new = tuple(_resolve(v, done, active) for v in obj)
        active.discard(key)
        done[key] = new if any(a is not b for a, b in zip(new, obj, strict=True)) else obj
        return done[key]
    if any(obj is g for g in _GLOBALS.values()):
        raise _MalformedError(
            f"{obj!r:.60} is stored as data; a dataset holds values, not functions"
        )
    return obj


def load_pickle(path: str | Path, encoding: str = "ASCII") -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` after checking its opcodes.

    Args:
        path: the pickle file.
        encoding: passed to the unpickler; use ``"bytes"`` for Python 2 pickles such as
            the official CIFAR-10 batches, ``"latin1"`` to read their arrays as str keys.

    Raises:
        UnsafePickleError: the file names a global outside the allow-list, or calls an
            allowed one in a way NumPy's own pickles never do.
        DataFormatError: the file is truncated, not a pickle, claims more bytes than it
            holds, or holds an array whose shape, dtype and data do not agree.
    """
    path = Path(path)
    size = path.stat().st_size
    try:
        _check_stream(path)
        with path.open("rb") as fh:
            data = RestrictedUnpickler(fh, encoding=encoding).load()
        return _resolve(data, {}, set())
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path}: {exc}") from None
    except _UnsafeCallError as exc:
        raise UnsafePickleError(
            f"{path}: {exc}. Get the file again from its official source."
        ) from None
    except _MalformedError as exc:
        raise DataFormatError(
            f"{path} ({size} bytes) is not a valid dataset pickle: {exc}. Delete it and get "
            "it again from its official source."
        ) from None
    except RecursionError:
        raise DataFormatError(f"{path}: the pickle is nested too deeply to be a dataset") from None
    except (
        EOFError,
        pickle.UnpicklingError,
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
        LookupError,
        MemoryError,
        OverflowError,
    ) as exc:
        raise DataFormatError(
            f"{path} ({size} bytes) is not a complete pickle ({type(exc).__name__}: "
            f"{str(exc)[:200]}); it is probably truncated or damaged. Delete it and get it again."
        ) from None
