"""Bounded extraction of FMU and SSP archives (zip files), safe against broken or hostile ones.

An archive is checked before anything is written: every member must stay inside the target
folder (no absolute names, no ``..``), the declared uncompressed total must not exceed
``ExtractionLimits.total_bytes``, and the archive's compression ratio (uncompressed / compressed)
must not exceed ``ExtractionLimits.ratio`` (a zip bomb expands thousands of times). While
extracting, the bytes actually written are counted too, so a member that lies about its size
is stopped at the limit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_CHUNK = 1 << 20


class ArchiveError(ValueError):
    """An archive that fmitwin refuses to extract (the message says why and what to do)."""


@dataclass(frozen=True)
class ExtractionLimits:
    """How much an archive may expand to: ``total_bytes`` uncompressed in all (default 4 GiB),
    and ``ratio``, the largest uncompressed / compressed size of the whole archive (default
    200; FMUs compress text resources 5-20 times, a zip bomb thousands of times)."""

    total_bytes: int = 4 << 30
    ratio: float = 200.0


DEFAULT_LIMITS = ExtractionLimits()


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n} bytes"


def _member_path(name: str) -> PurePosixPath | None:
    """The member's relative path, or None if it would land outside the target folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        return None
    return path


def check_archive(
    archive: zipfile.ZipFile,
    members: list[zipfile.ZipInfo],
    limits: ExtractionLimits,
    what: str,
) -> None:
    """Raises ArchiveError if ``members`` of ``archive`` escape the target folder or exceed
    ``limits`` (``what`` names the archive in the message)."""
    for info in members:
        if _member_path(info.filename) is None:
            raise ArchiveError(
                f"{what}: the archive member {info.filename!r} would be written outside the "
                "extraction folder; the archive is broken or malicious and is not extracted"
            )
    total = sum(i.file_size for i in members)
    packed = sum(i.compress_size for i in members)
    advice = "pass larger extraction_limits= if the archive is trusted"
    if total > limits.total_bytes:
        raise ArchiveError(
            f"{what}: the archive expands to {_size(total)}, more than the limit of "
            f"{_size(limits.total_bytes)}; not extracted ({advice})"
        )
    if total > _CHUNK and total > limits.ratio * max(packed, 1):
        raise ArchiveError(
            f"{what}: the archive expands {total / max(packed, 1):.0f} times ({_size(packed)} to "
            f"{_size(total)}), more than the limit of {limits.ratio:g}; this looks like a zip "
            f"bomb and is not extracted ({advice})"
        )


def extract(
    path: str | os.PathLike[str],
    destination: str | os.PathLike[str] | None = None,
    *,
    include: Callable[[str], bool] | None = None,
    limits: ExtractionLimits | None = None,
) -> Path:
    """Extracts the zip archive ``path`` (only members ``include(name)`` accepts) into
    ``destination`` (default: a new temporary folder, which the caller removes) within
    ``limits``; returns the folder. Raises ArchiveError before writing anything when the
    archive breaks the limits, and stops (removing a folder it created) when a member
    expands beyond what it declared."""
    limits = limits or DEFAULT_LIMITS
    what = str(path)
    with zipfile.ZipFile(path) as archive:
        members = [i for i in archive.infolist() if include is None or include(i.filename)]
        check_archive(archive, members, limits, what)
        created = destination is None
        target = Path(tempfile.mkdtemp(prefix="fmitwin-")) if created else Path(destination)
        budget = limits.total_bytes
        try:
            for info in members:
                out = target.joinpath(*_member_path(info.filename).parts)
                if info.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(out, "wb") as sink:
                    while chunk := source.read(_CHUNK):
                        budget -= len(chunk)
                        if budget < 0:
                            raise ArchiveError(
                                f"{what}: {info.filename} expands beyond the extraction limit "
                                f"of {_size(limits.total_bytes)}; extraction stopped"
                            )
                        sink.write(chunk)
        except BaseException:
            if created:
                shutil.rmtree(target, ignore_errors=True)
            raise
    return target
