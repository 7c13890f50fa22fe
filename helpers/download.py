"""Atomic, checksummed downloads and archive extraction that cannot escape its folder.

``keras.utils.get_file`` writes straight to the final name and keeps a file whose
hash is wrong; here a download goes to ``<name>.part``, is hashed while it streams,
and only a file with the expected SHA-256 is renamed into place. Extraction checks
every member first and refuses the whole archive if one would land outside the
target (``../`` paths, absolute paths, links pointing out), so nothing is half
written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from .errors import ChecksumError, UnsafeArchiveError

CHUNK = 1 << 20


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(
    url: str, dest: str | Path, sha256: str, *, progress: bool = True, timeout: float = 60.0
) -> Path:
    """Download ``url`` to ``dest`` atomically and check its SHA-256.

    A file already at ``dest`` with the right digest is kept and not downloaded again.

    Args:
        url: where to fetch from (http, https or file).
        dest: final path of the file.
        sha256: expected hex digest; the download is refused without a match.
        progress: show a tqdm progress bar.
        timeout: socket timeout in seconds.

    Raises:
        ChecksumError: the bytes received do not have the expected digest; nothing is
            left at ``dest`` and the partial file is removed.
        urllib.error.URLError: the server could not be reached.
    """
    dest = Path(dest)
    expected = sha256.lower()
    if dest.exists() and sha256_of(dest) == expected:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "cnn-suite/0.1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, part.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _progress_bar(total, dest.name) if progress else None
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                digest.update(block)
                if bar is not None:
                    bar.update(len(block))
            if bar is not None:
                bar.close()
        got = digest.hexdigest()
        if got != expected:
            raise ChecksumError(
                f"{url} arrived with SHA-256 {got}, expected {expected}: the download is "
                "damaged or the file changed upstream. Nothing was kept; try again."
            )
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


def _progress_bar(total: int | None, name: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name)


def _check_member_name(name: str, archive: Path) -> None:
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or (posix.parts and ":" in posix.parts[0]):
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} would be written outside the target folder; "
            "the archive was not extracted."
        )


def safe_extract(archive: str | Path, target: str | Path) -> Path:
    """Extract a zip or tar archive into ``target`` after checking every member.

    The archive is unpacked into a temporary folder beside ``target`` and each
    top-level entry is then moved in, so a failure leaves ``target`` as it was.

    Raises:
        UnsafeArchiveError: a member has an absolute or ``../`` path, or is a link or
            device file that would point outside ``target``.
        DataFormatError: the file is not a zip or tar archive.
    """
    from .errors import DataFormatError

    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _check_member_name(info.filename, archive)
                zf.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for member in members:
                    _check_member_name(member.name, archive)
                    try:  # links, devices and permissions, as Python's 'data' filter judges them
                        tarfile.data_filter(member, str(staging))
                    except tarfile.FilterError as exc:
                        raise UnsafeArchiveError(
                            f"{archive}: member {member.name!r} refused ({exc}); "
                            "the archive was not extracted."
                        ) from exc
                tf.extractall(staging, members=members, filter="data")
        else:
            raise DataFormatError(f"{archive} is neither a zip nor a tar archive")
        for entry in staging.iterdir():
            final = target / entry.name
            if final.exists():
                shutil.rmtree(final) if final.is_dir() else final.unlink()
            os.replace(entry, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
