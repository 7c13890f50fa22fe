"""Helpers for the cnn-suite notebooks: data layer, input pipelines, plots and reporting.

Import the pieces you need, e.g. ``from helpers.datasets import load_gtsrb``.
Importing ``helpers`` before Keras loads TensorFlow with the lines its C++ core
prints at start-up (oneDNN and CUDA probing, written before its logging is set up)
muted, so they do not show as a red block at the top of every notebook report.
"""

import os
import sys

# Keep TensorFlow's C++ log lines out of notebook outputs (version-skew notices such as
# "NodeDef mentions attribute ..." are logged at ERROR level yet harmless); Python
# exceptions still propagate.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 pointed at /dev/null meanwhile.

    TF 2.21 writes a few start-up lines straight to the stderr descriptor before its
    logging is initialised, which no environment variable silences. Python-level
    errors are unaffected: an ImportError still propagates.
    """
    if "tensorflow" in sys.modules:
        return
    try:
        saved = os.dup(2)
    except OSError:  # no stderr descriptor (some embedded interpreters)
        import tensorflow  # noqa: F401

        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe logs its own "no driver" error
        # Retracing notices fire whenever a notebook compares several models in a loop;
        # they are advice for library authors, not problems in a run.
        tf.get_logger().setLevel("ERROR")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_tensorflow_quietly()

from .config import RunConfig, make_config  # noqa: E402

__version__ = "0.1.0"
__all__ = ["RunConfig", "__version__", "make_config"]
