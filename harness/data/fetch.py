"""Downloads with a progress bar, resume and a checksum, and extraction of one archive member.

``harness data fetch criteo`` downloads Criteo's public Kaggle archive (about 4.3 GB, named in
the card's ``[download]`` table) and extracts ``train.txt``. A partial download is kept as
``<name>.part`` and resumed with an HTTP Range request; a server that ignores Range gets the
download restarted from the first byte.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from harness.errors import HarnessError

__all__ = ["Download", "download", "extract_member", "fetch_dataset", "sha256_of"]

_BLOCK = 1 << 20
_TIMEOUT_S = 60


@dataclass(frozen=True)
class Download:
    """A public archive: mirrors tried in order, and the member that holds the training rows."""

    name: str
    urls: tuple[str, ...]
    archive_name: str
    member: str
    # None where no published checksum is known: the first complete download's sha256 is then
    # recorded beside the file and every later fetch is checked against it.
    sha256: str | None = None


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, *, sha256: str | None = None, progress: bool = True) -> Path:
    """Downloads ``url`` to ``dest``, resuming ``dest.part`` if an earlier attempt was cut off.

    Args:
        url: http(s) address.
        dest: final path; written only once the whole file is there and its checksum matches.
        sha256: expected hex digest; None skips the check (the digest is still written to
            ``dest.sha256`` so the next fetch can compare).
        progress: show a rich progress bar.

    Raises:
        HarnessError: network failure (the partial file is kept for a resume) or checksum mismatch
            (the partial file is deleted, since resuming it cannot help).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "harness"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the part file is already complete
            return _finish(part, dest, sha256)
        raise HarnessError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise HarnessError(f"cannot reach {url}: {e}; check the network and retry") from None
    with response:
        resumed = have > 0 and response.status == 206
        if not resumed:
            have = 0  # the server ignored Range (or nothing to resume): start from the first byte
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        try:
            with part.open("ab" if resumed else "wb") as out, _progress(progress) as bar:
                task = bar.add_task(f"fetch {dest.name}", total=total, completed=have)
                while block := response.read(_BLOCK):
                    out.write(block)
                    bar.advance(task, len(block))
        except (urllib.error.URLError, OSError) as e:
            raise HarnessError(
                f"download of {url} was cut off ({e}); run the same command again to resume"
            ) from None
    if total is not None and part.stat().st_size != total:
        raise HarnessError(
            f"download of {url} stopped at {part.stat().st_size} of {total} bytes; "
            "run the same command again to resume"
        )
    return _finish(part, dest, sha256)


def _finish(part: Path, dest: Path, sha256: str | None) -> Path:
    recorded = dest.with_name(dest.name + ".sha256")
    expected = sha256 or (recorded.read_text().split()[0] if recorded.exists() else None)
    got = sha256_of(part)
    if expected is not None and got != expected.lower():
        part.unlink()
        raise HarnessError(
            f"checksum mismatch for {dest.name}: got sha256 {got}, expected {expected}; "
            "the download was corrupt or the source changed, so it was deleted: fetch again"
        )
    os.replace(part, dest)
    recorded.write_text(f"{got}  {dest.name}\n")
    return dest


def extract_member(archive: Path, member: str, dest: Path, *, progress: bool = True) -> Path:
    """Streams one member out of a (possibly gzipped) tar archive to ``dest``, atomically."""
    tmp = dest.with_name(dest.name + ".part")
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            names = {Path(m.name).name: m for m in tar if m.isfile()}
            if member not in names:
                raise HarnessError(
                    f"{archive.name} holds no {member!r} (it has {', '.join(sorted(names))}); "
                    "delete it and fetch again"
                )
            info = names[member]
            source = tar.extractfile(info)
            assert source is not None  # a regular file member always has a stream
            with source, tmp.open("wb") as out, _progress(progress) as bar:
                task = bar.add_task(f"extract {member}", total=info.size)
                while block := source.read(_BLOCK):
                    out.write(block)
                    bar.advance(task, len(block))
    except (tarfile.TarError, EOFError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise HarnessError(
            f"cannot read archive {archive}: {e}; delete it and fetch again"
        ) from None
    os.replace(tmp, dest)
    return dest


def fetch_dataset(
    spec: Download,
    folder: Path,
    *,
    urls: Sequence[str] | None = None,
    sha256: str | None = None,
    progress: bool = True,
) -> Path:
    """Downloads ``spec``'s archive into ``folder``, trying mirrors in order, and extracts it.

    Returns the path of the extracted training file; an already extracted file is returned as is.
    """
    target = folder / spec.member
    if target.exists():
        return target
    archive = folder / spec.archive_name
    errors: list[str] = []
    if not archive.exists():
        for url in urls or spec.urls:
            try:
                download(url, archive, sha256=sha256 or spec.sha256, progress=progress)
                break
            except HarnessError as e:
                errors.append(str(e))
        else:
            raise HarnessError(f"could not fetch {spec.name}: " + " | ".join(errors))
    extract_member(archive, spec.member, target, progress=progress)
    return target
