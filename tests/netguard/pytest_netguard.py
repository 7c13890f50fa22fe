"""Pytest side of the network guard: install it, reach child processes, fail offenders.

Registered by ``tests/conftest.py`` as a global plugin, so it also covers the notebook items
that nbmake collects outside ``tests/``. It installs :mod:`netguard` in the pytest process and
puts this folder first on ``PYTHONPATH``, so that ``sitecustomize.py`` installs it in every
Python process the tests start (notebook kernels, ``subprocess`` runs). Each refused connection
or DNS lookup is written to a log; after each test item the log is read, and an item that tried
to leave the machine fails even if the code under test caught the error.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import netguard
import pytest

GUARD_DIR = Path(__file__).resolve().parent


class NetGuard:
    """Owns the session's attempt log."""

    def __init__(self) -> None:
        fd, path = tempfile.mkstemp(prefix="cnn-suite-net-guard-", suffix=".log")
        os.close(fd)
        self.log = Path(path)
        self.reported = 0
        os.environ[netguard.LOG_ENV] = path
        paths = [str(GUARD_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        netguard.install()

    def attempts(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        start = len(self.attempts())
        try:
            result = yield
        finally:
            attempts = self.attempts()
            self.reported = len(attempts)
        new = attempts[start:]
        if new:
            pytest.fail(
                "tried to reach the network outside 127.0.0.1:\n  " + "\n  ".join(new[:10]),
                pytrace=False,
            )
        return result

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        left = self.attempts()[self.reported :]
        if left:  # outside any test's call phase (collection, fixtures)
            print("\nnetwork guard: connections outside 127.0.0.1:\n  " + "\n  ".join(left[:10]))
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self.log.unlink(missing_ok=True)
