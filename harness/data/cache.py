"""The on-disk cache of an encoded dataset: its layout, its key, atomic writing and loading.

Layout of one cache folder::

    <name>-<protocol>-<key>/
        schema.json            FeatureSchema (numeric stats, cardinalities, labels)
        meta.json              rows per split, protocol, skipped rows, source files, timings
        train/ valid/ test/    x_num.npy float32 [N, n_num], x_cat.npy int32 [N, n_cat],
                               y.npy float32 [N, n_tasks], group.npy uint64 [N] (grouped data),
                               x_vec.npy float32 [N, vector width] (text columns' embeddings)
        cat_counts/<C>.npy     int64 training count of each id (index = id) per feature
        vocab/<C>.npy          the raw key of each vocabulary id (index = id - 2)

The key hashes the source files' identities (resolved path, size, mtime of each, in order), the
dataset card's fingerprint, the preprocessing config and `FORMAT_VERSION`, so a changed file,
card, config or format misses the cache instead of reading stale arrays; a card with text
columns adds its text model's identity. It does not depend on how the cache was built (in one
process or on a Ray cluster): both give the same arrays. A folder is built under a temporary
name and renamed into place when complete, so an interrupted run never leaves a half-written
cache under a real key.

The text embeddings themselves are cached apart, per model and by text, beside the dataset
caches (``<cache_root>/text-embeddings/``, see `harness.data.text`), and copied into each
dataset's ``x_vec.npy``: another protocol of the same table encodes no text again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.schema import SPLIT_NAMES, EncodedDataset, EncodedSplit, FeatureSchema
from harness.errors import HarnessError

__all__ = [
    "ARRAY_NAMES",
    "FORMAT_VERSION",
    "building",
    "cache_key",
    "is_complete",
    "load_encoded",
    "write_json",
]

# Bump when the arrays or metadata written for the same input and config change.
# 2: dataset cards (statistics with quantile knots, several tasks, group keys).
FORMAT_VERSION = 2
ARRAY_NAMES = ("x_num", "x_cat", "y")
_META = "meta.json"
_SCHEMA = "schema.json"


def cache_key(sources: Path | Sequence[Path], settings: Mapping[str, Any]) -> str:
    """A short hex digest of the files' identities, the settings and `FORMAT_VERSION`.

    One file keys on its own identity; several (read in order) on the list of theirs, so adding,
    dropping, reordering or changing any file misses the cache.
    """
    paths = [sources] if isinstance(sources, Path) else list(sources)
    files = [_identity(Path(p)) for p in paths]
    identity: dict[str, Any] = {"format_version": FORMAT_VERSION, "settings": dict(settings)}
    if len(files) == 1:
        identity.update(files[0])  # the layout from before several files, so old keys still hit
    else:
        identity["sources"] = files
    text = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _identity(source: Path) -> dict[str, Any]:
    stat = source.stat()
    return {"source": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def is_complete(cache_dir: Path) -> bool:
    """Whether a finished cache lives at ``cache_dir`` (meta.json is written last)."""
    return (cache_dir / _META).is_file()


@contextmanager
def building(final: Path) -> Iterator[Path]:
    """A temporary folder beside ``final``, renamed to ``final`` when the block exits cleanly.

    On an exception the temporary folder is removed. If another process finished the same cache
    first, its copy is kept and this one discarded (both hold the same arrays).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    try:
        os.rename(work, final)
    except OSError:
        if not is_complete(final):
            shutil.rmtree(work, ignore_errors=True)
            raise
        shutil.rmtree(work, ignore_errors=True)


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")


def _load_split(folder: Path) -> EncodedSplit:
    arrays = {a: np.load(folder / f"{a}.npy", mmap_mode="r") for a in ARRAY_NAMES}
    group, x_vec = (
        np.load(path, mmap_mode="r") if path.exists() else None
        for path in (folder / "group.npy", folder / "x_vec.npy")
    )
    return EncodedSplit(**arrays, group=group, x_vec=x_vec)


def load_encoded(cache_dir: Path) -> EncodedDataset:
    """Memory-map a finished cache folder (see the module docstring for its layout).

    Raises:
        HarnessError: the folder is missing, unfinished or written by another format version.
    """
    cache_dir = Path(cache_dir)
    if not is_complete(cache_dir):
        raise HarnessError(
            f"{cache_dir}: not a finished dataset cache (no {_META}); delete it and prepare again"
        )
    meta: dict[str, Any] = json.loads((cache_dir / _META).read_text())
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise HarnessError(
            f"{cache_dir}: cache format version {version}, this harness reads {FORMAT_VERSION}; "
            "delete the folder and prepare again"
        )
    schema = FeatureSchema.from_json((cache_dir / _SCHEMA).read_text())
    splits = {name: _load_split(cache_dir / name) for name in SPLIT_NAMES}
    cat_counts = tuple(
        np.load(cache_dir / "cat_counts" / f"{feature.name}.npy", mmap_mode="r")
        for feature in schema.categorical
    )
    return EncodedDataset(
        name=str(meta["name"]),
        schema=schema,
        train=splits["train"],
        valid=splits["valid"],
        test=splits["test"],
        protocol=str(meta["protocol"]),
        synthetic=bool(meta["synthetic"]),
        source=str(meta["source"]),
        skipped_rows=int(meta["skipped_rows"]),
        cache_dir=str(cache_dir),
        cat_counts=cat_counts,
    )
