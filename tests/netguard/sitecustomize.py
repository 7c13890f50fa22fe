"""Loaded by every Python process started during the tests (``PYTHONPATH`` puts this folder
first): installs the network guard of :mod:`netguard` in notebook kernels and subprocesses."""

try:
    import netguard

    netguard.install_from_env()
except ImportError:  # pragma: no cover - the folder left PYTHONPATH
    pass
