"""Preparing a many-file dataset (Criteo 1TB: 24 day files) on a Ray cluster, one task per file.

The passes are those of the single-process path (`harness.data.shards`), driven by the same
card and run as Ray tasks by `harness.data.preprocess.prepare_dataset`, so the cache is
byte-identical to the single-process one over the same files and is found under the same key:

1. one ``parse`` task per raw file writes that shard's Arrow blocks into the cache's build folder;
2. the driver computes each shard's global row offset; one ``count`` task per shard returns its
   training value counts, which the driver sums as they arrive (at most a few shards' tables in
   memory at once) into the vocabularies;
3. the driver preallocates the split arrays at full size; one ``encode`` task per shard writes
   its row ranges in place (the vocabulary travels once, through Ray's object store);
4. the driver writes schema.json, cat_counts, vocab and meta.json and renames the folder into
   place, exactly as the single-process path does.

No task holds more than one block of its file in memory, and nothing holds the whole dataset:
trials later memory-map the arrays from the cache folder (`harness.data.cache.load_encoded`).

On a real cluster the cache folder (``cache_root``, by default ``$HARNESS_HOME/cache``) and the raw
files must be on a filesystem every node mounts at the same path (NFS, Lustre, a cloud file
share): tasks on any node read the raw files and write into the build folder, and trials on any
node read the arrays. harness must be installed on every node. On one machine (``--workers N``)
any local folder works.

A task that fails on a bad row raises the same one-line `HarnessError` (file and line) as the
single-process path; the other tasks are cancelled and the build folder removed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import ray
from rich.progress import Progress

from harness.data.cache import is_complete, load_encoded
from harness.data.card import DatasetCard
from harness.data.preprocess import (
    DataFiles,
    PreprocessConfig,
    Sources,
    cache_dir_for,
    prepare_dataset,
)
from harness.data.readers.base import BadRows, check_readable
from harness.data.schema import EncodedDataset
from harness.data.shards import (
    Fitted,
    FrameEncoder,
    ShardCounts,
    ShardInfo,
    ShardPlan,
    count_shard,
    encode_shard,
    parse_shard,
)
from harness.data.splits import SplitPlan
from harness.data.table import CanonicalColumns
from harness.distributed.session import ClusterResources, ray_session
from harness.errors import HarnessError

__all__ = ["prepare_distributed"]

_CANCEL_WAIT_S = 30.0  # how long cancelled tasks get to stop before the build folder is removed


def prepare_distributed(
    card: DatasetCard,
    files: Sources | DataFiles,
    config: PreprocessConfig,
    *,
    cache_root: Path,
    address: str | None = None,
    num_cpus: int | None = None,
    progress: bool = True,
    synthetic: bool = False,
) -> EncodedDataset:
    """Encode a card's raw files into cached splits with Ray tasks, or load them if cached.

    Args:
        card: the dataset card.
        files: the main files in order (e.g. ``day_0`` .. ``day_23``), read as if
            concatenated, or `DataFiles` with side tables; one task per main file and pass, so
            more files spread over more CPUs.
        config: split protocol, vocabulary threshold, bad-row policy, block size.
        cache_root: where the cache folder goes; on a real cluster, a filesystem every node
            mounts at the same path (see the module docstring).
        address: join this Ray cluster (``"auto"``, ``"host:6379"``, ``"ray://host:10001"``);
            None starts a local one. A Ray already running in this process is used as it is.
        num_cpus: CPUs of a local cluster (default: all); not with ``address``.
        progress: show rich progress bars (tasks done / total) on stderr.
        synthetic: mark the dataset as synthetic (shown in its title).

    Returns:
        The dataset, memory-mapped from its cache folder: the same folder, with the same bytes,
        as the single-process path over the same files gives.

    Raises:
        HarnessError: unreadable input, a bad row (the message names the file and its line), too
            few rows for every split, or a Ray cluster that cannot be started or joined.
    """
    given = DataFiles.of(files)
    # Tasks run elsewhere: absolute paths.
    files = DataFiles(
        tuple(p.resolve() for p in given.main),
        given.splits,
        tuple(p.resolve() for p in given.sides),
    )
    for path in files.every:
        check_readable(path)
    final = cache_dir_for(files, config, card, cache_root=cache_root, synthetic=synthetic)
    if is_complete(final):
        return load_encoded(final)  # no Ray needed
    if address is not None and num_cpus is not None:
        raise HarnessError("num_cpus sets up a local Ray cluster; it cannot be used with address")
    with ray_session(address, num_cpus=num_cpus) as cluster:
        return prepare_dataset(
            card,
            files,
            config,
            cache_root=Path(cache_root).resolve(),
            progress=progress,
            synthetic=synthetic,
            runner=_RayTasks(cluster),
        )


# --- the tasks ------------------------------------------------------------------------------
# One CPU each (Ray's default, spelled out). Ray re-runs a task whose worker died (not one that
# raised), so each task may start over from scratch: parse clears its folder first, count is
# pure, and encode rewrites the same bytes.


@ray.remote(num_cpus=1)
def _parse_task(
    card: DatasetCard,
    path: str,
    sides: tuple[str, ...],
    folder: str,
    block_bytes: int,
    bad_rows: BadRows,
) -> ShardInfo:
    shutil.rmtree(folder, ignore_errors=True)  # a half-written folder from a crashed attempt
    return parse_shard(
        Path(path),
        Path(folder),
        card=card,
        side_files=tuple(map(Path, sides)),
        block_bytes=block_bytes,
        bad_rows=bad_rows,
    )


@ray.remote(num_cpus=1)
def _count_task(
    shard: ShardInfo, index: int, offset: int, plan: SplitPlan, columns: CanonicalColumns,
    n_rows: int,
) -> ShardCounts:  # fmt: skip
    return count_shard(shard, index=index, offset=offset, plan=plan, columns=columns, n_rows=n_rows)


@ray.remote(num_cpus=1)
def _encode_task(
    shard: ShardInfo,
    shard_plan: ShardPlan,
    fitted: Fitted,
    index: int,
    plan: SplitPlan,
    columns: CanonicalColumns,
    arrays_dir: str,
) -> None:
    with FrameEncoder(fitted, columns) as encoder:
        encode_shard(
            shard, shard_plan, encoder, index=index, plan=plan, arrays_dir=Path(arrays_dir)
        )


class _RayTasks:
    """`harness.data.preprocess.ShardRunner` with one Ray task per shard and pass."""

    def __init__(self, cluster: ClusterResources) -> None:
        self.description = f"ray: one task per shard and pass, cluster of {cluster.cpus:g} CPUs"

    def parse(
        self,
        card: DatasetCard,
        files: DataFiles,
        folder: Path,
        config: PreprocessConfig,
        bars: Progress,
    ) -> list[ShardInfo]:
        folder = folder.resolve()
        sides = tuple(str(p) for p in files.sides)
        refs = [
            _parse_task.remote(
                card,
                str(path),
                sides,
                str(folder / f"{i:05d}"),
                config.block_bytes,
                config.bad_rows,
            )
            for i, path in enumerate(files.main)
        ]
        shards: list[ShardInfo | None] = [None] * len(refs)
        for index, shard in _as_completed(refs, bars, f"parse {len(refs)} files"):
            shards[index] = shard
        return [s for s in shards if s is not None]

    def count(
        self,
        shards: Sequence[ShardInfo],
        offsets: Sequence[int],
        plan: SplitPlan,
        columns: CanonicalColumns,
        bars: Progress,
    ) -> Iterator[tuple[int, ShardCounts]]:
        n_rows = sum(s.rows for s in shards)
        refs = [
            _count_task.remote(shard, index, offset, plan, columns, n_rows)
            for index, (shard, offset) in enumerate(zip(shards, offsets, strict=True))
        ]
        yield from _as_completed(refs, bars, "fit on train")

    def encode(
        self,
        shards: Sequence[ShardInfo],
        plans: Sequence[ShardPlan],
        fitted: Fitted,
        plan: SplitPlan,
        columns: CanonicalColumns,
        arrays_dir: Path,
        bars: Progress,
    ) -> None:
        fitted_ref = ray.put(fitted)  # once, not once per task
        refs = [
            _encode_task.remote(
                shard, shard_plan, fitted_ref, index, plan, columns, str(arrays_dir.resolve())
            )
            for index, (shard, shard_plan) in enumerate(zip(shards, plans, strict=True))
        ]
        for _ in _as_completed(refs, bars, "encode"):
            pass


def _as_completed(refs: list[Any], bars: Progress, description: str) -> Iterator[tuple[int, Any]]:
    """``(index in refs, result)`` as tasks finish; on a failure the rest are cancelled.

    Raises:
        HarnessError: a task raised one (re-raised as the same one-line message).
    """
    task = bars.add_task(description, total=len(refs))
    index = {ref: i for i, ref in enumerate(refs)}
    pending = list(refs)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                yield index[ref], _result(ref)
                bars.advance(task)
    finally:
        if pending:  # an error, or Ctrl-C: stop the rest before the build folder goes
            for ref in pending:
                ray.cancel(ref, force=True)
            ray.wait(pending, num_returns=len(pending), timeout=_CANCEL_WAIT_S)


def _result(ref: Any) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        if isinstance(error.cause, HarnessError):  # a user error: one line, no remote traceback
            raise HarnessError(str(error.cause)) from None
        raise
