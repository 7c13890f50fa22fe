"""Helpers for the cnn-suite notebooks: data layer, input pipelines, plots and reporting.

Import the pieces you need, e.g. ``from helpers.datasets import load_gtsrb``. The
top-level package stays light (no TensorFlow import) so that tests and tools that
only need the data layer start quickly.
"""

import os

# Keep TensorFlow's C++ INFO logs out of notebook outputs; warnings and errors still show.
# (TF 2.21 prints a few lines before its logging starts, which no setting silences.)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .config import RunConfig, make_config  # noqa: E402

__version__ = "0.1.0"
__all__ = ["RunConfig", "__version__", "make_config"]
