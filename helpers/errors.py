"""Exceptions raised by the data layer, each with a message a student can act on."""

from __future__ import annotations


class CnnSuiteError(Exception):
    """Base class of every error raised on purpose by ``helpers``."""


class DataNotFoundError(CnnSuiteError, FileNotFoundError):
    """A dataset is not where it was looked for and cannot be downloaded."""


class DataFormatError(CnnSuiteError, ValueError):
    """A dataset file exists but does not hold what its format promises."""


class UnsafePickleError(DataFormatError):
    """A pickle asked to import something other than plain NumPy arrays and builtins."""


class ArchiveError(DataFormatError):
    """An archive is damaged, truncated, not an archive, or cannot be unpacked here."""


class UnsafeArchiveError(ArchiveError):
    """An archive member is a link or special file, would be written outside the extraction
    folder, or the archive would unpack to more than the size and ratio limits allow."""


class DownloadError(CnnSuiteError, OSError):
    """A download failed or was cut short; nothing was kept (an ``OSError``, as network
    failures are, so callers that fall back when offline treat it the same way)."""


class ChecksumError(CnnSuiteError, ValueError):
    """A downloaded file does not have the expected SHA-256 digest."""


class SyntheticDataError(CnnSuiteError, RuntimeError):
    """Full mode asked for data that only exists as a synthetic stand-in."""
