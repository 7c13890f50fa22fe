"""Loaded by every Python process started during the tests (``PYTHONPATH`` puts this folder
first): installs the network guard of :mod:`netguard` in notebook kernels and subprocesses,
then runs the ``sitecustomize`` this one shadows, if the interpreter has one."""

import importlib.machinery
import importlib.util
import os
import sys

try:
    import netguard

    netguard.install_from_env()
except ImportError:  # pragma: no cover - the folder left PYTHONPATH
    pass

_here = os.path.dirname(os.path.abspath(__file__))
_rest = [p for p in sys.path if os.path.abspath(p or ".") != _here]
_spec = importlib.machinery.PathFinder.find_spec("sitecustomize", _rest)
if _spec is not None and _spec.loader is not None:
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
