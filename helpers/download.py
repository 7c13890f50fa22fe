"""Atomic, checksummed downloads and archive extraction that cannot escape its folder.

``keras.utils.get_file`` writes straight to the final name and keeps a file whose
hash is wrong; here a download goes to ``<name>.part``, is hashed while it streams,
and only a file with the expected SHA-256 is renamed into place. A transfer that is
cut short (``http.client.IncompleteRead``, fewer bytes than ``Content-Length``) is a
:class:`~helpers.errors.DownloadError`, and folders the download created are removed
again when it fails.

Extraction does not use ``extractall`` or the interpreter's tarfile filters (older
Python 3.11 and 3.12 releases let a chain of symbolic links escape them). Every member
is checked first and the whole archive is refused if one fails: only regular files and
folders are accepted (every link, device and FIFO is refused), names must stay inside
the target, a name may not be both a file and a folder, and the archive may unpack to at
most :data:`MAX_EXTRACT_BYTES` bytes, :data:`MAX_RATIO` times its own size and
:data:`MAX_MEMBERS` members. Files are then written by this module, one by one, into a
staging folder, with the bytes counted as they are written; what is on disk is checked
again before it is moved into the target. Any failure removes the staging folder, so
nothing is half written.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import stat
import tarfile
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from .errors import ArchiveError, ChecksumError, DownloadError, UnsafeArchiveError

CHUNK = 1 << 20

MAX_EXTRACT_BYTES = 1 << 30
"""Most bytes an archive may unpack to (1 GiB; CIFAR-10's official archive unpacks to 178 MiB)."""
MAX_RATIO = 20.0
"""Most bytes unpacked per byte of archive (the official archives hold pixels and JPEGs: ~1.1)."""
MAX_MEMBERS = 100_000
"""Most members an archive may have (CIFAR-10's has 9)."""
_RATIO_FLOOR = 1 << 20  # the ratio limit never refuses archives that unpack to <= 1 MiB
_DISK_MARGIN = 64 << 20


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _new_folders(folder: Path) -> Iterator[None]:
    """Create ``folder`` (and missing parents); remove the ones created here if the body fails."""
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for made in missing:  # deepest first; only while empty
            try:
                made.rmdir()
            except OSError:
                break
        raise


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
        DownloadError: the transfer was cut short or the server answered with a broken
            response (an ``OSError``); nothing is kept.
        urllib.error.URLError: the server could not be reached (also an ``OSError``).
    """
    dest = Path(dest)
    expected = sha256.lower()
    if dest.exists() and sha256_of(dest) == expected:
        return dest
    part = dest.with_name(dest.name + ".part")
    with _new_folders(dest.parent):
        try:
            _fetch(url, part, dest, expected, progress, timeout)
        finally:
            part.unlink(missing_ok=True)
    return dest


def _fetch(url: str, part: Path, dest: Path, expected: str, progress: bool, timeout: float) -> None:
    digest = hashlib.sha256()
    received = 0
    request = urllib.request.Request(url, headers={"User-Agent": "cnn-suite/0.1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, part.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _progress_bar(total, dest.name) if progress else None
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                digest.update(block)
                received += len(block)
                if bar is not None:
                    bar.update(len(block))
            if bar is not None:
                bar.close()
    except http.client.HTTPException as exc:  # IncompleteRead and friends are not OSErrors
        raise DownloadError(
            f"{url}: the transfer broke off after {received} bytes ({type(exc).__name__}); "
            "nothing was kept. Check the connection and try again."
        ) from exc
    if total is not None and received != total:
        raise DownloadError(
            f"{url}: received {received} of {total} bytes; the transfer was cut short and "
            "nothing was kept. Try again."
        )
    got = digest.hexdigest()
    if got != expected:
        raise ChecksumError(
            f"{url} arrived with SHA-256 {got}, expected {expected}: the download is "
            "damaged or the file changed upstream. Nothing was kept; try again."
        )
    os.replace(part, dest)


def _progress_bar(total: int | None, name: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name)


# ------------------------------------------------------------------------------ extraction


@dataclass
class _Member:
    """One archive member as this module will write it."""

    parts: tuple[str, ...]  # path inside the target, already checked
    is_dir: bool
    size: int
    open: Callable[[], IO[bytes]]


def _member_parts(name: str, archive: Path) -> tuple[str, ...]:
    """The checked path components of a member name; refuses names that leave the target."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if (
        posix.is_absolute()
        or ".." in posix.parts
        or (posix.parts and ":" in posix.parts[0])
        or "\x00" in name
    ):
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} would be written outside the target folder; "
            "the archive was not extracted."
        )
    parts = tuple(p for p in posix.parts if p not in ("", "."))
    if not parts:
        raise ArchiveError(f"{archive}: member {name!r} has an empty name; nothing was extracted.")
    return parts


def _refuse_kind(archive: Path, name: str, kind: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"{archive}: member {name!r} is {kind}; only regular files and folders are extracted "
        "(links could point outside the target). The archive was not extracted."
    )


def _zip_members(zf: zipfile.ZipFile, archive: Path) -> Iterator[_Member]:
    for info in zf.infolist():
        mode = info.external_attr >> 16
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "a special file"
            raise _refuse_kind(archive, info.filename, kind)
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{archive}: member {info.filename!r} is encrypted; not extracted.")
        yield _Member(
            _member_parts(info.filename, archive),
            info.is_dir(),
            0 if info.is_dir() else info.file_size,
            lambda info=info: zf.open(info),
        )


def _tar_members(tf: tarfile.TarFile, archive: Path) -> Iterator[_Member]:
    for member in tf:
        if member.issym() or member.islnk():
            kind = "a symbolic link" if member.issym() else "a hard link"
            raise _refuse_kind(archive, member.name, f"{kind} (to {member.linkname!r})")
        if not (member.isfile() or member.isdir()) or member.issparse():
            raise _refuse_kind(archive, member.name, "a device, FIFO or sparse file")
        yield _Member(
            _member_parts(member.name, archive),
            member.isdir(),
            member.size if member.isfile() else 0,
            lambda member=member: tf.extractfile(member),  # type: ignore[return-value]
        )


def _plan(
    members: Iterator[_Member], archive: Path, max_bytes: int, max_ratio: float, max_members: int
) -> list[_Member]:
    """Check every member and the totals before anything is written."""
    limit = min(max_bytes, max(int(max_ratio * archive.stat().st_size), _RATIO_FLOOR))
    files: set[tuple[str, ...]] = set()
    folders: set[tuple[str, ...]] = set()
    plan, total = [], 0
    for m in members:
        plan.append(m)
        total += m.size
        if len(plan) > max_members:
            raise UnsafeArchiveError(
                f"{archive}: more than {max_members} members; refused as an archive bomb."
            )
        if total > limit:
            raise UnsafeArchiveError(
                f"{archive} ({archive.stat().st_size} bytes) would unpack to more than "
                f"{limit} bytes (limits: {max_bytes} bytes in all, {max_ratio:g} times the "
                "archive's size); refused as an archive bomb. Nothing was extracted."
            )
        parents = {m.parts[:i] for i in range(1, len(m.parts))}
        if m.is_dir:
            parents.add(m.parts)
        clash = (parents & files) or ({m.parts} & folders if not m.is_dir else set())
        if clash or (not m.is_dir and m.parts in files):
            where = "/".join(next(iter(clash)) if clash else m.parts)
            raise ArchiveError(
                f"{archive}: {where!r} appears both as a file and as a folder, or twice as a "
                "file; the archive is malformed and was not extracted."
            )
        folders |= parents
        if not m.is_dir:
            files.add(m.parts)
    return plan


def _write_member(m: _Member, staging: Path, budget: int, archive: Path) -> int:
    """Write one member below ``staging`` without following links; returns bytes written."""
    path = staging.joinpath(*m.parts)
    if m.is_dir:
        path.mkdir(parents=True, exist_ok=True)
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as out, m.open() as src:
        for block in iter(lambda: src.read(CHUNK), b""):
            written += len(block)
            if written > m.size or written > budget:
                raise UnsafeArchiveError(
                    f"member {'/'.join(m.parts)!r} unpacks to more bytes than it declares; refused."
                )
            out.write(block)
    if written != m.size:
        raise ArchiveError(
            f"{archive}: member {'/'.join(m.parts)!r} holds {written} of its {m.size} bytes; "
            "the archive is truncated. Nothing was extracted."
        )
    return written


def _check_on_disk(staging: Path, archive: Path, max_bytes: int) -> None:
    """After writing: only plain files and folders below ``staging``, within the size limit."""
    root = staging.resolve()
    total = 0
    for dirpath, dirnames, filenames in os.walk(staging):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                raise UnsafeArchiveError(
                    f"{archive}: extraction produced {path.name!r}, not a file"
                )
            if not path.resolve().is_relative_to(root):
                raise UnsafeArchiveError(f"{archive}: {path} lies outside the target")
            total += info.st_size if stat.S_ISREG(info.st_mode) else 0
    if total > max_bytes:
        raise UnsafeArchiveError(f"{archive}: {total} bytes on disk, more than {max_bytes}")


def safe_extract(
    archive: str | Path,
    target: str | Path,
    *,
    max_bytes: int = MAX_EXTRACT_BYTES,
    max_ratio: float = MAX_RATIO,
    max_members: int = MAX_MEMBERS,
) -> Path:
    """Extract a zip or tar archive into ``target`` after checking every member.

    ``target`` is created if needed; the archive is unpacked into a temporary folder inside
    it and each top-level entry is then moved in, so a failure leaves ``target`` as it was.

    Args:
        max_bytes: most bytes the archive may unpack to.
        max_ratio: most bytes unpacked per byte of archive.
        max_members: most members.

    Raises:
        UnsafeArchiveError: a member has an absolute or ``../`` path, is a link, device or
            FIFO, or the archive exceeds a limit.
        ArchiveError: the file is not a zip or tar archive, is damaged or truncated (bad
            CRC, cut ``.tar.gz``), names a path both as a file and a folder, or the disk
            has no room for it. Both are :class:`~helpers.errors.DataFormatError`s.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    staging: Path | None = None
    try:
        with _open_archive(archive) as members:
            plan = _plan(members, archive, max_bytes, max_ratio, max_members)
            need = sum(m.size for m in plan)
            if shutil.disk_usage(target).free < need + _DISK_MARGIN:
                raise ArchiveError(
                    f"{archive}: unpacking needs {need} bytes and {target} has "
                    f"{shutil.disk_usage(target).free} free; nothing was extracted."
                )
            staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target))
            budget = max_bytes
            for m in plan:
                budget -= _write_member(m, staging, budget, archive)
        _check_on_disk(staging, archive, max_bytes)
        for entry in staging.iterdir():
            final = target / entry.name
            if final.is_symlink() or final.is_file():
                final.unlink()
            elif final.exists():
                shutil.rmtree(final)
            os.replace(entry, final)
    except ArchiveError:
        _clean(staging)
        raise
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        RuntimeError,
        NotImplementedError,
        ValueError,
    ) as exc:
        _clean(staging)
        raise ArchiveError(
            f"{archive} could not be extracted ({type(exc).__name__}: {exc}); it is damaged, "
            "truncated or malformed. Nothing was extracted; delete it and get it again."
        ) from exc
    except BaseException:
        _clean(staging)
        raise
    _clean(staging)
    return target


@contextmanager
def _open_archive(archive: Path) -> Iterator[Iterator[_Member]]:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            yield _zip_members(zf, archive)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            yield _tar_members(tf, archive)
    else:
        raise ArchiveError(f"{archive} is neither a zip nor a tar archive; nothing was extracted.")


def _clean(staging: Path | None) -> None:
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
