"""A card's raw files (one or several, or pre-split) -> encoded, cached, memory-mapped splits.

Each main file is a *shard*; the passes over a shard are the pure functions of
`harness.data.shards`, and `prepare_dataset` runs them through a `ShardRunner`: here a loop in
this process, in `harness.distributed` Ray tasks spread over a cluster. Both give byte-identical
caches, since they run the same functions and finish the cache the same way:

1. **parse** every shard into canonical Arrow IPC block files (memory bounded by the block size;
   side tables joined, derived features and task labels computed);
2. **plan** the split (`harness.data.splits`: by row index, time, group, per user, or the given
   files);
3. **count** each shard's training rows (value counts, exact integer sums, the quantile sample)
   and merge the counts into the vocabularies and numeric statistics: fitted on the training
   split only;
4. **encode** each shard into its row ranges of the per-split ``.npy`` files, preallocated at
   their final size once the per-shard split counts are known; each split keeps file order;
5. **text** (cards with ``text`` columns, in this process for every runner): the distinct texts
   of all shards are embedded once by the card's ``text_model`` (`harness.data.text`, which
   encodes only texts not in its cache under ``<cache_root>/text-embeddings/``), then each shard's
   rows get their vectors in ``x_vec.npy``, split exactly as in the encode pass. A missing text
   is a zero vector. A card's ``vectors`` columns (parquet lists of numbers) join the same pass:
   checked (one width, the first non-null row's; finite values), then copied into ``x_vec``
   after the text features, in card order; a missing vector is zeros.

Several files are read in order as if concatenated: the global row index (which sets each row's
split) runs on across files, while a bad row is still reported by its own file and line. The
result depends neither on the block size nor on how rows are cut into files: the same rows give
byte-identical arrays (and, for integer columns, statistics). Vocabulary ids are described in
`harness.data.vocab`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from harness import __version__
from harness.data.cache import (
    FORMAT_VERSION,
    building,
    cache_key,
    is_complete,
    load_encoded,
    write_json,
)
from harness.data.card import DatasetCard, load_card
from harness.data.readers.base import DEFAULT_BLOCK_BYTES, BadRows, check_readable
from harness.data.schema import SPLIT_NAMES, EncodedDataset, VectorFeature
from harness.data.shards import (
    CountMerger,
    Fitted,
    FrameEncoder,
    ShardCounts,
    ShardInfo,
    ShardPlan,
    Splits,
    TextTable,
    allocate_arrays,
    allocate_vectors,
    count_shard,
    distinct_texts,
    encode_shard,
    parse_shard,
    plan_shards,
    read_columns,
    shard_offsets,
    vector_widths,
    write_fitted,
    write_vector_shard,
)
from harness.data.splits import SplitContext, SplitPlan, get_protocol
from harness.data.table import CanonicalColumns
from harness.data.text import TextModel, encode_texts
from harness.errors import HarnessError

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "DataFiles",
    "PreprocessConfig",
    "ShardRunner",
    "Sources",
    "as_paths",
    "cache_dir_for",
    "describe",
    "load_encoded",
    "prepare_criteo",
    "prepare_dataset",
    "progress_bars",
]

# One raw file, or several read in order as if concatenated.
Sources = Path | Sequence[Path]


@dataclass(frozen=True)
class PreprocessConfig:
    """How raw files become encoded splits.

    Attributes:
        protocol: a name in ``SPLIT_PROTOCOLS`` (``sequential``, ``x1``, ``x4``, ``time``, ...).
        min_count: training count a categorical value needs to get its own id (else RARE_ID).
        seed: seeds the random split protocols.
        bad_rows: ``"error"`` stops at the first bad row; ``"skip"`` drops and counts them.
        block_bytes: bytes parsed at a time; sets peak memory, never the result.
    """

    protocol: str = "sequential"
    min_count: int = 2
    seed: int = 0
    bad_rows: BadRows = "error"
    block_bytes: int = DEFAULT_BLOCK_BYTES

    def __post_init__(self) -> None:
        get_protocol(self.protocol)  # raises naming the valid protocols
        if self.min_count < 1:
            raise HarnessError(f"min_count must be at least 1, got {self.min_count=}")
        if self.seed < 0:
            raise HarnessError(f"seed must be non-negative, got {self.seed=}")
        if self.bad_rows not in ("error", "skip"):
            raise HarnessError(f"bad_rows must be 'error' or 'skip', got {self.bad_rows=}")
        if self.block_bytes < 1:
            raise HarnessError(f"block_bytes must be at least 1, got {self.block_bytes=}")

    @classmethod
    def for_files(
        cls,
        files: DataFiles | None,
        *,
        protocol: str | None,
        default_protocol: str,
        min_count: int,
        seed: int = 0,
        bad_rows: str = "error",
    ) -> PreprocessConfig:
        """The config of a run on ``files``: pre-split files are split already (``files``).

        Raises:
            HarnessError: ``--protocol`` asks to split pre-split files again.
        """
        presplit = files is not None and files.presplit
        if presplit and protocol not in (None, "files"):
            raise HarnessError(
                f"--protocol {protocol}: pre-split files (--valid, --test) are already split"
            )
        return cls(
            protocol="files" if presplit else protocol or default_protocol,
            min_count=min_count,
            seed=seed,
            bad_rows=bad_rows,  # type: ignore[arg-type]  # checked in __post_init__
        )

    def cache_settings(self) -> dict[str, Any]:
        """What the arrays depend on (block_bytes does not change them)."""
        settings = asdict(self)
        del settings["block_bytes"]
        return settings


@dataclass(frozen=True)
class DataFiles:
    """The files of one dataset: main files read in order, and the card's side tables.

    Attributes:
        main: the main files (shards), read in order as if concatenated.
        splits: for pre-split data, each main file's split code (0 train, 1 valid, 2 test);
            empty otherwise.
        sides: one file per ``card.joins`` entry.
    """

    main: tuple[Path, ...]
    splits: tuple[int, ...] = ()
    sides: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if not self.main:
            raise HarnessError("no data files given; pass at least one file")
        if self.splits and len(self.splits) != len(self.main):  # a bug
            raise ValueError(f"{len(self.splits)} split codes for {len(self.main)} files")

    @classmethod
    def of(cls, sources: Sources | DataFiles) -> DataFiles:
        if isinstance(sources, DataFiles):
            return sources
        return cls(as_paths(sources))

    @property
    def presplit(self) -> bool:
        return bool(self.splits)

    @property
    def every(self) -> tuple[Path, ...]:
        return (*self.main, *self.sides)


def as_paths(sources: Sources) -> tuple[Path, ...]:
    """The raw files of ``sources`` as a tuple (one path, or several in order).

    Raises:
        HarnessError: no file given.
    """
    paths = (Path(sources),) if isinstance(sources, (str, Path)) else tuple(map(Path, sources))
    if not paths:
        raise HarnessError("no raw files given; pass at least one data file")
    return paths


def cache_dir_for(
    files: DataFiles,
    config: PreprocessConfig,
    card: DatasetCard,
    *,
    cache_root: Path,
    synthetic: bool,
) -> Path:
    """The cache folder of these files, card and config (the same for every runner).

    The key holds the polars version: string categoricals are keyed by polars' hash, stable
    within a version; and, for a card with text columns, its text model's identity
    (`harness.data.text.TextModel.key`: another model, or changed weights, miss the cache).

    Raises:
        HarnessError: the card's text model is missing (the message says how to install it).
    """
    settings = {
        **config.cache_settings(),
        "name": card.name,
        "synthetic": synthetic,
        "card": card.fingerprint,
        "splits": list(files.splits),
        "sides": len(files.sides),
        "polars": pl.__version__,
    }
    if card.text:  # only then, so that the keys of caches without text stay what they were
        settings["text_model"] = _text_model(card).key()
    return Path(cache_root) / f"{card.name}-{config.protocol}-{cache_key(files.every, settings)}"


def prepare_criteo(
    path: Sources,
    config: PreprocessConfig,
    *,
    cache_root: Path,
    progress: bool = True,
    name: str = "criteo",
    synthetic: bool = False,
) -> EncodedDataset:
    """Raw Criteo text through the ``criteo`` card (or ``name``'s card), in this process.

    Args:
        path: raw Criteo text (plain or gzip), or several such files (e.g. ``day_0`` ..
            ``day_23``) read in order as if concatenated.
        config: split protocol, vocabulary threshold, bad-row policy, block size.
        cache_root: folder holding one sub-folder per prepared (files, card, config).
        progress: show rich progress bars on stderr.
        name: the card (``criteo`` or ``criteo-1tb``).
        synthetic: mark the dataset as synthetic (shown in its title).
    """
    return prepare_dataset(
        load_card(name), path, config, cache_root=cache_root, progress=progress, synthetic=synthetic
    )


def prepare_dataset(
    card: DatasetCard,
    files: Sources | DataFiles,
    config: PreprocessConfig,
    *,
    cache_root: Path,
    progress: bool = True,
    synthetic: bool = False,
    runner: ShardRunner | None = None,
) -> EncodedDataset:
    """Encode a card's raw files into cached splits, or load them if already cached.

    Args:
        card: the dataset card.
        files: the main file(s), or `DataFiles` with side tables and pre-split files.
        config: split protocol, vocabulary threshold, bad-row policy, block size.
        cache_root: folder holding one sub-folder per prepared (files, card, config).
        progress: show rich progress bars on stderr.
        synthetic: mark the dataset as synthetic (shown in its title).
        runner: runs the passes (default: in this process).

    Returns:
        The dataset, memory-mapped from its cache folder.

    Raises:
        HarnessError: unreadable input, a bad row (with ``bad_rows="error"``; the message names
            the file and its line), or too few rows for every split to get one.
    """
    files = DataFiles.of(files)
    for need in get_protocol(config.protocol).needs:
        if getattr(card, need) is None:
            raise HarnessError(
                f"protocol {config.protocol!r} needs the card's `{need}` column, and {card.path} "
                f'names none; give the card `{need} = "<column>"` or pick another protocol'
            )
    if files.presplit and config.protocol != "files":
        raise HarnessError(
            f"pre-split files (--valid, --test) take the 'files' protocol, not {config.protocol!r}"
        )
    if len(files.sides) != len(card.joins):
        raise HarnessError(
            f"{card.path}: join: the card joins {len(card.joins)} table(s), "
            f"{len(files.sides)} side file(s) found"
        )
    for path in files.every:
        check_readable(path)
    final = cache_dir_for(files, config, card, cache_root=cache_root, synthetic=synthetic)
    if is_complete(final):
        return load_encoded(final)
    runner = runner or _InProcess()
    with progress_bars(progress) as bars, building(final) as work:
        _build(card, files, config, runner, work, bars, synthetic=synthetic, cache_root=cache_root)
    return load_encoded(final)


class ShardRunner(Protocol):
    """Runs one pass over every shard: in this process, or as tasks on a cluster.

    Each method runs the `harness.data.shards` function of its pass once per shard and shows
    its progress on ``bars``; only where and in what order the calls run differs.
    """

    @property
    def description(self) -> str:
        """Where the passes ran (recorded in meta.json)."""
        ...

    def parse(
        self,
        card: DatasetCard,
        files: DataFiles,
        folder: Path,
        config: PreprocessConfig,
        bars: Progress,
    ) -> list[ShardInfo]:
        """`parse_shard` of ``files.main[i]`` into ``folder / f"{i:05d}"``; shards in order."""
        ...

    def count(
        self,
        shards: Sequence[ShardInfo],
        offsets: Sequence[int],
        plan: SplitPlan,
        columns: CanonicalColumns,
        bars: Progress,
    ) -> Iterator[tuple[int, ShardCounts]]:
        """`count_shard` of every shard: ``(shard index, counts)`` in any order."""
        ...

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
        """`encode_shard` of every shard into the arrays preallocated under ``arrays_dir``."""
        ...


@dataclass
class _Timings:
    parse_s: float = 0.0
    fit_s: float = 0.0
    encode_s: float = 0.0
    text_s: float = 0.0


def _label(paths: Sequence[Path]) -> str:
    """How error messages name the input: the file, or the first and last of several."""
    if len(paths) == 1:
        return paths[0].name
    return f"{paths[0].name} .. {paths[-1].name} ({len(paths)} files)"


def _source(paths: Sequence[Path]) -> str:
    """The input as recorded in meta.json and the dataset (all paths are in ``sources``)."""
    resolved = [p.resolve() for p in paths]
    if len(resolved) == 1:
        return str(resolved[0])
    if len({p.parent for p in resolved}) == 1:
        first, last = resolved[0].name, resolved[-1].name
        return f"{resolved[0].parent}/{{{first} .. {last}}} ({len(resolved)} files)"
    return "; ".join(map(str, resolved))


def _build(
    card: DatasetCard,
    files: DataFiles,
    config: PreprocessConfig,
    runner: ShardRunner,
    work: Path,
    bars: Progress,
    *,
    synthetic: bool,
    cache_root: Path,
) -> None:
    protocol = get_protocol(config.protocol)
    columns = CanonicalColumns.of(card)
    timings = _Timings()
    started = time.perf_counter()
    paths = files.main

    shards = runner.parse(card, files, work / "blocks", config, bars)
    n_rows = sum(s.rows for s in shards)
    skipped = sum(s.skipped for s in shards)
    if n_rows == 0:
        raise HarnessError(f"{_label(paths)}: no rows left after skipping {skipped} bad rows")
    timings.parse_s = time.perf_counter() - started

    fit_started = time.perf_counter()
    context = SplitContext(
        n_rows=n_rows,
        seed=config.seed,
        shard_splits=files.splits or tuple(None for _ in shards),
        columns=partial(read_columns, shards),
        work=work,
    )
    plan = protocol.plan(context)
    merger = CountMerger(columns, card)
    split_rows: list[Splits | None] = [None] * len(shards)
    for index, counts in runner.count(shards, shard_offsets(shards), plan, columns, bars):
        split_rows[index] = counts.split_rows
        merger.add(counts)
    if any(rows is None for rows in split_rows):  # a bug in a runner
        raise RuntimeError(f"counts missing for shards {split_rows}")
    planned = [rows for rows in split_rows if rows is not None]
    sizes = (
        sum(r[0] for r in planned),
        sum(r[1] for r in planned),
        sum(r[2] for r in planned),
    )
    if min(sizes) == 0:
        shown = ", ".join(f"{s} {n}" for s, n in zip(SPLIT_NAMES, sizes, strict=True))
        raise HarnessError(
            f"{_label(paths)}: {n_rows} rows split by {config.protocol} give {shown}; "
            "every split needs at least one row, use a bigger file"
        )
    fitted = merger.fit(min_count=config.min_count)
    timings.fit_s = time.perf_counter() - fit_started

    encode_started = time.perf_counter()
    allocate_arrays(work, sizes, columns)
    shard_plans = plan_shards(shards, planned)
    runner.encode(shards, shard_plans, fitted, plan, columns, work, bars)
    timings.encode_s = time.perf_counter() - encode_started

    text_meta: dict[str, Any] = {}
    if columns.text or columns.vectors:  # before the blocks (and the split codes) are deleted
        text_started = time.perf_counter()
        vectors, text_meta = _write_vectors(
            card, shards, shard_plans, plan, columns, work, bars, sizes, cache_root=cache_root
        )
        fitted = replace(fitted, schema=replace(fitted.schema, vectors=vectors))
        timings.text_s = time.perf_counter() - text_started
    shutil.rmtree(work / "blocks")
    (work / "split_codes.npy").unlink(missing_ok=True)

    write_fitted(work, fitted)
    total = time.perf_counter() - started
    meta = {
        "format_version": FORMAT_VERSION,
        "harness_version": __version__,
        "name": card.name,
        "card": card.path,
        "card_fingerprint": card.fingerprint,
        "synthetic": synthetic,
        "source": _source(paths),
        "sources": [str(p.resolve()) for p in paths],
        "side_files": [str(p.resolve()) for p in files.sides],
        "source_bytes": sum(p.stat().st_size for p in files.every),
        "protocol": config.protocol,
        "protocol_description": protocol.description,
        "config": config.cache_settings(),
        "rows": dict(zip(SPLIT_NAMES, sizes, strict=True)),
        "total_rows": n_rows,
        "skipped_rows": skipped,
        "skipped_by_file": {s.source: s.skipped for s in shards if s.skipped},
        "shards": len(shards),
        "blocks": sum(len(s.blocks) for s in shards),
        "runner": runner.description,
        **text_meta,
        "timings": {**asdict(timings), "total_s": total, "rows_per_s": n_rows / total},
    }
    (work / "schema.json").write_text(fitted.schema.to_json())
    write_json(work / "meta.json", meta)  # last: its presence marks a finished cache


def _text_model(card: DatasetCard) -> TextModel:
    """The card's `harness.data.text.TextModel`."""
    return TextModel(card.text_model)


def _write_vectors(
    card: DatasetCard,
    shards: Sequence[ShardInfo],
    shard_plans: Sequence[ShardPlan],
    plan: SplitPlan,
    columns: CanonicalColumns,
    work: Path,
    bars: Progress,
    sizes: Splits,
    *,
    cache_root: Path,
) -> tuple[tuple[VectorFeature, ...], dict[str, Any]]:
    """Pass 5: every distinct text embedded once, the vector columns checked, then each split's
    ``x_vec.npy``: the text features, then the vector columns.

    Runs in this process for every runner: the model is loaded once, and the pass only reads
    the blocks' text and vector columns (on a cluster, from the shared build folder).

    Returns:
        One `VectorFeature` per text column, then one per vector column, and what meta.json
        records of the pass (``text`` and ``vectors`` entries).
    """
    meta: dict[str, Any] = {}
    features: list[VectorFeature] = []
    table: TextTable | None = None
    if columns.text:
        model = _text_model(card)
        texts = distinct_texts(shards, columns)
        embedded = encode_texts(texts, model, cache_root=Path(cache_root), progress=bars)
        table = TextTable(tuple(texts), embedded.vectors)
        report = embedded.report
        features += [VectorFeature(c, report.width, "text", model.name) for c in columns.text]
        meta["text"] = {
            "model": report.model,
            "model_key": report.key,
            "width": report.width,
            "columns": list(columns.text),
            "distinct_texts": report.texts,
            "encoded": report.encoded,
            "reused": report.reused,
            "embed_s": report.seconds,
        }
    widths = vector_widths(shards, columns) if columns.vectors else ()
    features += [
        VectorFeature(c, w, "column", "") for c, w in zip(columns.vectors, widths, strict=True)
    ]
    if columns.vectors:
        meta["vectors"] = dict(zip(columns.vectors, widths, strict=True))
    allocate_vectors(work, sizes, sum(f.width for f in features))
    task = bars.add_task("write vectors", total=sum(len(s.blocks) for s in shards))
    for index, (shard, shard_plan) in enumerate(zip(shards, shard_plans, strict=True)):
        write_vector_shard(
            shard,
            shard_plan,
            table,
            index=index,
            plan=plan,
            columns=columns,
            widths=widths,
            arrays_dir=work,
            on_block=partial(_advance, bars, task),
        )
    return tuple(features), meta


class _InProcess:
    """The passes as plain loops over the shards, in this process."""

    description = "single process"

    def parse(
        self,
        card: DatasetCard,
        files: DataFiles,
        folder: Path,
        config: PreprocessConfig,
        bars: Progress,
    ) -> list[ShardInfo]:
        paths = files.main
        sizes = [p.stat().st_size for p in paths]
        task = bars.add_task(f"parse {_label(paths)}", total=sum(sizes))
        shards: list[ShardInfo] = []
        for index, path in enumerate(paths):
            shards.append(
                parse_shard(
                    path,
                    folder / f"{index:05d}",
                    card=card,
                    side_files=files.sides,
                    block_bytes=config.block_bytes,
                    bad_rows=config.bad_rows,
                    on_block=partial(_show_bytes, bars, task, sum(sizes[:index])),
                )
            )
        return shards

    def count(
        self,
        shards: Sequence[ShardInfo],
        offsets: Sequence[int],
        plan: SplitPlan,
        columns: CanonicalColumns,
        bars: Progress,
    ) -> Iterator[tuple[int, ShardCounts]]:
        task = bars.add_task("fit on train", total=sum(len(s.blocks) for s in shards))
        advance = partial(_advance, bars, task)
        n_rows = sum(s.rows for s in shards)
        for index, (shard, offset) in enumerate(zip(shards, offsets, strict=True)):
            yield (
                index,
                count_shard(
                    shard,
                    index=index,
                    offset=offset,
                    plan=plan,
                    columns=columns,
                    n_rows=n_rows,
                    on_block=advance,
                ),
            )

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
        task = bars.add_task("encode", total=sum(len(s.blocks) for s in shards))
        advance = partial(_advance, bars, task)
        with FrameEncoder(fitted, columns) as encoder:  # id tables built once for all shards
            for index, (shard, shard_plan) in enumerate(zip(shards, plans, strict=True)):
                encode_shard(
                    shard,
                    shard_plan,
                    encoder,
                    index=index,
                    plan=plan,
                    arrays_dir=arrays_dir,
                    on_block=advance,
                )


def _show_bytes(bars: Progress, task: TaskID, before: int, read: int) -> None:
    bars.update(task, completed=before + read)


def _advance(bars: Progress, task: TaskID, _: int) -> None:
    bars.advance(task)


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Progress]:
    """Rich progress bars on stderr for the passes (``enabled=False``: nothing is shown)."""
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )
    with bars:
        yield bars


def describe(dataset: EncodedDataset) -> str:
    """A one-line summary of a prepared dataset (rows per split, cardinality range)."""
    sizes = ", ".join(f"{s} {dataset.split(s).n_rows}" for s in SPLIT_NAMES)
    cards = dataset.schema.cardinalities
    card_range = f" (cardinality {min(cards)}..{max(cards)})" if cards else ""
    vectors = dataset.schema.vectors
    n_text = sum(v.source == "text" for v in vectors)
    kinds = [f"{n_text} text"] * bool(n_text) + [f"{len(vectors) - n_text} vector"] * bool(
        len(vectors) - n_text
    )
    text = (
        f", {' + '.join(kinds)} ({dataset.schema.vector_width} vector columns)" if vectors else ""
    )
    tasks = ", ".join(dataset.schema.labels)
    return (
        f"{dataset.title}: {sizes}; {dataset.schema.n_num} numeric, {dataset.schema.n_cat} "
        f"categorical{card_range}{text}; tasks {tasks}; protocol {dataset.protocol}"
    )
