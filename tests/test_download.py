"""Atomic checksummed downloads (from a local HTTP server) and safe archive extraction."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

import pytest

from helpers.download import download_file, safe_extract, sha256_of
from helpers.errors import ChecksumError, UnsafeArchiveError


def test_download_checks_sha256_and_renames(http_root):
    root, url = http_root
    payload = b"cnn-suite " * 5000
    (root / "file.bin").write_bytes(payload)
    dest_dir = root.parent / "dl"
    dest = download_file(
        f"{url}/file.bin",
        dest_dir / "file.bin",
        hashlib.sha256(payload).hexdigest(),
        progress=False,
    )
    assert dest.read_bytes() == payload
    assert [p.name for p in dest_dir.iterdir()] == ["file.bin"]  # no .part left behind


def test_download_with_wrong_checksum_keeps_nothing(http_root):
    root, url = http_root
    (root / "file.bin").write_bytes(b"tampered content")
    dest_dir = root.parent / "dl"
    with pytest.raises(ChecksumError, match="expected"):
        download_file(f"{url}/file.bin", dest_dir / "file.bin", "0" * 64, progress=False)
    assert not dest_dir.exists()  # the folder the download created is removed again


def test_existing_file_with_right_hash_is_not_downloaded_again(tmp_path):
    dest = tmp_path / "cached.bin"
    dest.write_bytes(b"already here")
    # the URL does not exist: a download attempt would fail
    out = download_file("http://127.0.0.1:9/nothing", dest, sha256_of(dest), progress=False)
    assert out == dest


def _tar_with(path, name, data=b"x", kind=tarfile.REGTYPE, linkname=""):
    with tarfile.open(path, "w:gz") as tf:
        ok = tarfile.TarInfo("good/file.txt")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path


@pytest.mark.parametrize(
    "name, kind, linkname",
    [
        ("../escape.txt", tarfile.REGTYPE, ""),
        ("/tmp/abs_escape.txt", tarfile.REGTYPE, ""),
        ("good/link", tarfile.SYMTYPE, "../../outside"),
        ("good/hard", tarfile.LNKTYPE, "/etc/passwd"),
    ],
)
def test_tar_members_leaving_target_are_refused(tmp_path, name, kind, linkname):
    archive = _tar_with(tmp_path / "bad.tar.gz", name, kind=kind, linkname=linkname)
    target = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, target)
    assert list(target.iterdir()) == []  # nothing half-extracted, not even the good member
    assert not (tmp_path / "escape.txt").exists()


def test_zip_with_parent_paths_is_refused(tmp_path):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/ok.txt", "ok")
        zf.writestr("../../evil.txt", "evil")
    target = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match="outside the target"):
        safe_extract(archive, target)
    assert list(target.iterdir()) == []


def test_good_archives_extract(tmp_path):
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("d/a.txt", "A")
    safe_extract(archive, tmp_path / "z")
    assert (tmp_path / "z" / "d" / "a.txt").read_text() == "A"
    tar = tmp_path / "ok.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        info = tarfile.TarInfo("d/b.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"B"))
    safe_extract(tar, tmp_path / "t")
    assert (tmp_path / "t" / "d" / "b.txt").read_text() == "B"


def test_not_an_archive(tmp_path):
    from helpers.errors import DataFormatError

    path = tmp_path / "plain.txt"
    path.write_text("no archive")
    with pytest.raises(DataFormatError):
        safe_extract(path, tmp_path / "out")
