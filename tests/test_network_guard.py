"""The network guard (``conftest.py``, ``tests/netguard``): tests never leave 127.0.0.1.

Proves that a connection or a DNS lookup outside the loopback fails, in this process and in a
child Python process (as notebook kernels are), that loopback traffic still works, and that
quick mode asks for no backbone download.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request

import netguard
import pytest


@pytest.fixture
def private_log(tmp_path, monkeypatch):
    """Send this test's deliberate attempts to its own log, not the session's."""
    log = tmp_path / "attempts.log"
    monkeypatch.setenv(netguard.LOG_ENV, str(log))
    return log


def test_connection_outside_loopback_fails_and_is_recorded(private_log):
    with (
        pytest.raises(netguard.NetworkBlockedError, match="connect to 192.0.2.1:80"),
        socket.socket() as s,
    ):
        s.connect(("192.0.2.1", 80))
    with pytest.raises(netguard.NetworkBlockedError), socket.socket(socket.AF_INET6) as s:
        s.connect_ex(("2001:db8::1", 443, 0, 0))
    with pytest.raises(OSError, match="network guard"):  # DNS is refused before any lookup
        urllib.request.urlopen("https://storage.googleapis.com/x", timeout=1)
    lines = private_log.read_text().splitlines()
    assert len(lines) == 3 and "getaddrinfo('storage.googleapis.com')" in lines[2]
    with pytest.raises(OSError, match="network guard"):  # and the high-level helper
        socket.create_connection(("192.0.2.1", 80), timeout=1)


def test_loopback_still_works(http_root, private_log):
    root, url = http_root
    (root / "hello.txt").write_text("hi")
    assert urllib.request.urlopen(f"{url}/hello.txt", timeout=5).read() == b"hi"
    assert socket.getaddrinfo("localhost", 80) and netguard.is_local("::1")
    assert not private_log.exists()


def test_child_processes_are_guarded(private_log):
    """Subprocesses and notebook kernels load the guard through ``sitecustomize``."""
    code = "import urllib.request; urllib.request.urlopen('http://example.com', timeout=2)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert done.returncode != 0 and "network guard" in done.stderr
    assert "getaddrinfo('example.com')" in private_log.read_text()


def test_quick_mode_never_downloads_backbones(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_SUITE_QUICK", "1")
    monkeypatch.setattr("helpers.backbones.keras_models_dirs", lambda: [tmp_path / "none"])
    from helpers.backbones import BackboneUnavailableError, load_backbone

    with pytest.raises(BackboneUnavailableError, match="downloads disabled in quick mode"):
        load_backbone("mobilenet_v2", (32, 32, 3))
    bb = load_backbone("mobilenet_v2", (32, 32, 3), allow_random=True)
    assert bb.weights.startswith("random (quick mode only)") and not bb.pretrained


def test_notebook_kernels_are_guarded(private_log, tmp_path):
    """A kernel (as nbmake and papermill start them) refuses too, even if a cell catches it."""
    import nbclient
    import nbformat

    cell = (
        "import urllib.request\n"
        "try:\n"
        "    urllib.request.urlopen('http://example.com', timeout=2)\n"
        "except OSError as exc:\n"
        "    print(exc)"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    resources = {"metadata": {"path": str(tmp_path)}}
    nbclient.NotebookClient(nb, timeout=120, resources=resources).execute()
    assert "network guard" in nb.cells[0].outputs[0]["text"]
    assert "getaddrinfo('example.com')" in private_log.read_text()
