"""Load pickled datasets without letting the file run code.

``pickle.load`` imports and calls whatever a file names, so a doctored
``train.pickle`` could run any command. The dataset pickles of this suite only
need NumPy arrays, dtypes and Python builtins (dict, list, bytes, str, int), so
:class:`RestrictedUnpickler` admits exactly those globals and refuses the rest.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from .errors import DataFormatError, UnsafePickleError

# (module, name) pairs that NumPy arrays need to be rebuilt, across NumPy 1.x and 2.x.
_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # protocol-2 pickles store bytes through it
        ("collections", "OrderedDict"),
    }
)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds NumPy arrays and builtin containers."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED or (module == "numpy.dtypes" and name.endswith("DType")):
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"refusing to load {module}.{name}: this pickle asks to import code, and a dataset "
            "file needs nothing but NumPy arrays and builtins. Get the file again from its "
            "official source."
        )


def load_pickle(path: str | Path, encoding: str = "ASCII") -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler`.

    Args:
        path: the pickle file.
        encoding: passed to the unpickler; use ``"bytes"`` for Python 2 pickles such as
            the official CIFAR-10 batches, ``"latin1"`` to read their arrays as str keys.

    Raises:
        UnsafePickleError: the file names a global outside the allow-list.
        DataFormatError: the file is truncated or is not a pickle.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return RestrictedUnpickler(fh, encoding=encoding).load()
    except UnsafePickleError:
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as exc:
        size = path.stat().st_size
        raise DataFormatError(
            f"{path} ({size} bytes) is not a complete pickle ({type(exc).__name__}: {exc}); "
            "it is probably truncated or damaged. Delete it and get it again."
        ) from exc
