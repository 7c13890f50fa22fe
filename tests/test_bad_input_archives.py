"""Hostile and damaged archives and cut downloads: refused whole, nothing left half-written.

Each archive is built by hand in ``tmp_path``; each test checks the exception type and
message, that nothing appeared outside the target, that a target's previous content is
unchanged and that no staging folder or partial file is left. The one server binds to
127.0.0.1.
"""

from __future__ import annotations

import http.server
import io
import tarfile
import threading
import zipfile

import pytest
from bad_input_tools import snapshot

from helpers.datasets import load_cifar10
from helpers.download import MAX_EXTRACT_BYTES, MAX_RATIO, download_file, safe_extract
from helpers.errors import ArchiveError, DataNotFoundError, DownloadError, UnsafeArchiveError


@pytest.fixture
def place(tmp_path):
    """An input folder with the archive, and a target that already holds one file."""
    src, target = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    target.mkdir()
    (target / "keep.txt").write_text("was here before")
    return src, target


def _refused(archive, target, exc_type, *words, **limits):
    """Extract expecting ``exc_type``; the input folder, the target and the rest are unchanged."""
    root = target.parent
    before = snapshot(root)
    with pytest.raises(exc_type) as info:
        safe_extract(archive, target, **limits)
    text = str(info.value)
    assert str(archive) in text, text
    for word in words:
        assert word in text, (word, text)
    assert snapshot(root) == before  # no staging folder, no escaped file, nothing changed
    return text


def _tar(path, entries, mode="w:gz"):
    """Write a tar from ``(name, kind, data_or_linkname)`` triples."""
    with tarfile.open(path, mode) as tf:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
            else:
                info.linkname = payload or ""
                tf.addfile(info)
    return path


# ------------------------------------------------------------------ links and special files


def test_symlink_chain_longer_than_path_max_is_refused(place):
    """The CVE-2025-4517 pattern: nested folders and links whose resolved path overflows."""
    src, target = place
    entries, path = [], ""
    for i in range(16):
        step = f"{'d' * 240}{i}"
        entries.append((f"{path}{step}", tarfile.DIRTYPE, None))
        entries.append((f"{path}l{i}", tarfile.SYMTYPE, step))
        path += f"{step}/"
    entries.append(("escape", tarfile.SYMTYPE, "/".join(f"l{i}" for i in range(16)) + "/../" * 17))
    entries.append(("escape/pwned.txt", tarfile.REGTYPE, b"outside"))
    archive = _tar(src / "chain.tar.gz", entries)
    _refused(archive, target, UnsafeArchiveError, "symbolic link", "not extracted")
    assert not (target.parent / "pwned.txt").exists()


@pytest.mark.parametrize(
    "kind, link, word",
    [
        (tarfile.SYMTYPE, "data/a.txt", "symbolic link"),  # even one pointing inside
        (tarfile.LNKTYPE, "data/a.txt", "hard link"),
        (tarfile.CHRTYPE, None, "device"),
        (tarfile.FIFOTYPE, None, "FIFO"),
    ],
)
def test_every_link_and_special_member_is_refused(place, kind, link, word):
    src, target = place
    archive = _tar(src / "x.tar", [("data/a.txt", tarfile.REGTYPE, b"A"), ("data/b", kind, link)])
    _refused(archive, target, UnsafeArchiveError, word, "data/b")


def test_zip_symlink_member_is_refused(place):
    src, target = place
    archive = src / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", "ok")
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    _refused(archive, target, UnsafeArchiveError, "symbolic link", "'link'")


# ------------------------------------------------------------------ sizes


def test_zip_bomb_is_refused_by_ratio(place):
    src, target = place
    archive = src / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (4 << 20))
    assert archive.stat().st_size < 10_000
    _refused(archive, target, UnsafeArchiveError, "archive bomb", f"{MAX_RATIO:g} times")


def test_tar_bomb_is_refused_by_total_size(place):
    src, target = place
    archive = _tar(src / "big.tar.gz", [(f"f{i}", tarfile.REGTYPE, b"x" * 4000) for i in range(5)])
    _refused(archive, target, UnsafeArchiveError, "10000 bytes in all", max_bytes=10_000)


def test_too_many_members(place):
    src, target = place
    archive = _tar(src / "many.tar", [(f"f{i}", tarfile.REGTYPE, b"") for i in range(20)])
    _refused(archive, target, UnsafeArchiveError, "more than 10 members", max_members=10)


def test_limits_fit_the_official_archive():
    # CIFAR-10's cifar-10-python.tar.gz: 170 498 071 bytes unpacking to ~184 MB (ratio ~1.1)
    assert MAX_EXTRACT_BYTES >= 184_000_000 * 2 and MAX_RATIO >= 2


# ------------------------------------------------------------------ damaged and malformed


def test_zip_with_bad_crc_leaves_nothing(place):
    src, target = place
    archive = src / "crc.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a/first.txt", b"fine " * 100)
        zf.writestr("a/second.txt", b"payload " * 100)
    data = bytearray(archive.read_bytes())
    data[data.index(b"payload") + 3] ^= 0xFF
    archive.write_bytes(bytes(data))
    _refused(archive, target, ArchiveError, "BadZipFile", "damaged")


def test_truncated_tar_gz_leaves_nothing(place):
    src, target = place
    import os

    archive = _tar(
        src / "cut.tar.gz", [(f"f{i}", tarfile.REGTYPE, os.urandom(3000)) for i in range(4)]
    )
    archive.write_bytes(archive.read_bytes()[:6000])
    _refused(archive, target, ArchiveError, "truncated", "Nothing was extracted")


@pytest.mark.parametrize(
    "names",
    [
        [("a", tarfile.REGTYPE, b"1"), ("a/b", tarfile.REGTYPE, b"2")],
        [("a/b", tarfile.REGTYPE, b"2"), ("a", tarfile.REGTYPE, b"1")],
        [("a", tarfile.DIRTYPE, None), ("a", tarfile.REGTYPE, b"1")],
        [("a", tarfile.REGTYPE, b"1"), ("./a", tarfile.REGTYPE, b"2")],
    ],
)
def test_member_both_file_and_folder_or_twice(place, names):
    src, target = place
    archive = _tar(src / "clash.tar", names, mode="w")
    _refused(archive, target, ArchiveError, "both as a file and as a folder")


def test_zip_file_and_folder_clash(place):
    src, target = place
    archive = src / "clash.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("x", "file")
        zf.writestr("x/y", "inside")
    _refused(archive, target, ArchiveError, "'x'")


def test_encrypted_zip_member(place):
    src, target = place
    archive = src / "enc.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("secret.txt", "not really encrypted")
    data = bytearray(archive.read_bytes())
    for header, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the encrypted flag
        data[data.index(header) + offset] |= 0x1
    archive.write_bytes(bytes(data))
    _refused(archive, target, ArchiveError, "encrypted")


@pytest.mark.parametrize("blob", [b"", b"PK\x03\x04broken", b"\x1f\x8b\x08garbage", b"text"])
def test_not_an_archive(place, blob):
    src, target = place
    (src / "f.zip").write_bytes(blob)
    _refused(src / "f.zip", target, ArchiveError)


def test_good_archive_still_extracts_next_to_existing_files(place):
    src, target = place
    archive = _tar(
        src / "ok.tar.gz", [("d", tarfile.DIRTYPE, None), ("d/a.txt", tarfile.REGTYPE, b"A")]
    )
    safe_extract(archive, target)
    assert sorted(p.name for p in target.iterdir()) == ["d", "keep.txt"]
    assert (target / "d" / "a.txt").read_bytes() == b"A"


# ------------------------------------------------------------------ cut downloads


class _CutHandler(http.server.BaseHTTPRequestHandler):
    """Sends half a body: chunked (``/chunked``) or short of its Content-Length."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        if self.path.startswith("/chunked"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"1000\r\n" + b"x" * 100)  # a 4096-byte chunk, cut after 100
        else:
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b"y" * 1000)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def cut_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "path, word", [("chunked/f.bin", "broke off"), ("short/f.bin", "1000 of 5000")]
)
def test_cut_download_is_a_download_error_and_keeps_nothing(cut_server, tmp_path, path, word):
    dest = tmp_path / "new" / "deeper" / "f.bin"
    with pytest.raises(DownloadError, match=word) as info:
        download_file(f"{cut_server}/{path}", dest, "0" * 64, progress=False)
    assert isinstance(info.value, OSError)  # loaders treat it like being offline
    assert list(tmp_path.iterdir()) == []  # no .part, no folders it created


def test_load_cifar10_with_cut_download_leaves_no_cache_folder(cut_server, isolated, monkeypatch):
    monkeypatch.setattr("helpers.datasets.cifar10.URL", f"{cut_server}/chunked/c.tar.gz")
    before = snapshot(isolated["cache"].parent)
    with pytest.raises(DataNotFoundError, match="download failed.*broke off"):
        load_cifar10()
    assert snapshot(isolated["cache"].parent) == before
