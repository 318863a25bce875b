"""A card's files as one stream of canonical blocks: the rows every preprocessing pass reads.

`TableReader` resolves which file holds each column the card names (the main file, or a side
table joined on a key), reads the main file in bounded blocks with its format's reader, joins
the side tables (read once, in memory), computes derived features and emits a *canonical* block:

- numeric features under their names: Int32/Int64 (exact integer statistics) or Float64
  (NaN as null);
- categorical features as integer keys: UInt32 for hex hashes, UInt64 for integers (their bits)
  and strings (a 64-bit polars hash: stable for one polars version, which the cache key holds);
- each task's 0/1 label as ``__task:<name>`` (UInt8);
- ``__group`` (UInt64 key) and ``__time`` (Float64) when the card names them;
- each text column as ``__text:<name>`` (String, null where missing), read by the text step
  after the encode pass (`harness.data.shards.write_vector_shard`);
- each vector column as ``__vec:<name>`` (List(Float32), null where missing), checked
  (`harness.data.shards.vector_widths`) and written by the same step.

Rows keep the main file's order, so a row's global index is its position in the main file(s).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from harness.data.card import DatasetCard
from harness.data.columns import GROUP, TIME, task_column
from harness.data.derive import DERIVATIONS
from harness.data.readers.base import BadRows, Block, ReadColumn
from harness.data.readers.delimited import TextLayout, iter_text_blocks, text_columns
from harness.data.readers.parquet import iter_parquet_blocks, parquet_columns
from harness.errors import HarnessError

__all__ = [
    "TEXT_PREFIX",
    "VECTOR_PREFIX",
    "CanonicalColumns",
    "TableReader",
    "file_columns",
    "text_column",
    "vector_column",
]

TEXT_PREFIX = "__text:"
VECTOR_PREFIX = "__vec:"


def text_column(name: str) -> str:
    """The canonical column of a text column (its raw strings)."""
    return TEXT_PREFIX + name


def vector_column(name: str) -> str:
    """The canonical column of a vector column (its lists of numbers)."""
    return VECTOR_PREFIX + name


@dataclass(frozen=True)
class CanonicalColumns:
    """The canonical columns of a card's blocks that the passes read, in schema order.

    Attributes:
        numeric: numeric feature names (``x_num`` columns).
        numeric_kinds: ``int`` or ``float`` each (exact integer or float statistics).
        categorical: categorical feature names (``x_cat`` columns).
        categorical_kinds: ``hex``, ``int``, ``string`` or ``derived`` each.
        tasks: task names (``y`` columns, canonical ``__task:<name>``).
        group: whether blocks carry ``__group``.
        text: text column names (``x_vec`` features, canonical ``__text:<name>``).
        vectors: vector column names (``x_vec`` features after the text ones, canonical
            ``__vec:<name>``).
    """

    numeric: tuple[str, ...]
    numeric_kinds: tuple[str, ...]
    categorical: tuple[str, ...]
    categorical_kinds: tuple[str, ...]
    tasks: tuple[str, ...]
    group: bool
    text: tuple[str, ...] = ()
    vectors: tuple[str, ...] = ()

    @classmethod
    def of(cls, card: DatasetCard) -> CanonicalColumns:
        numeric_kinds = [
            "float" if c.type == "float" else "int" for c in card.features if c.role == "numeric"
        ]
        numeric_kinds += ["float" for d in card.derived if d.role == "numeric"]
        categorical_kinds = [c.type for c in card.features if c.role == "categorical"]
        categorical_kinds += ["derived" for d in card.derived if d.role == "categorical"]
        return cls(
            numeric=card.numeric,
            numeric_kinds=tuple(numeric_kinds),
            categorical=card.categorical,
            categorical_kinds=tuple(categorical_kinds),
            tasks=card.labels,
            group=card.group is not None,
            text=card.text,
            vectors=card.vectors,
        )

    def key_dtype(self, column: str) -> pl.DataType:
        """UInt32 for hex hashes, UInt64 for every other categorical key."""
        kind = self.categorical_kinds[self.categorical.index(column)]
        return pl.UInt32() if kind == "hex" else pl.UInt64()


def file_columns(card: DatasetCard, path: Path) -> dict[str, str]:
    """The columns of one of the card's files and the kind of each (``int``, ``float``,
    ``string``; ``string`` for every column of a delimited file).

    Raises:
        HarnessError: unreadable file.
    """
    if card.format == "parquet":
        out = {}
        for name, dtype in parquet_columns(path).items():
            if dtype.is_integer() or dtype == pl.Boolean or dtype.is_temporal():
                out[name] = "int"  # date-times as Unix seconds
            elif dtype.is_numeric():
                out[name] = "float"
            else:
                out[name] = "string"
        return out
    if card.header:
        return dict.fromkeys(text_columns(path, card.delimiter, _quote(card)), "string")
    return dict.fromkeys(card.columns, "string")


def _quote(card: DatasetCard) -> str | None:
    return '"' if card.format == "csv" else None


@dataclass(frozen=True)
class _Side:
    """A side table read into memory, and the key it is joined on."""

    frame: pl.DataFrame
    on: str
    path: Path

    def keyed_as(self, dtype: pl.DataType) -> pl.DataFrame:
        """The table with its key cast to the main file's key type (once per file read)."""
        try:
            return self.frame.with_columns(pl.col(self.on).cast(dtype))
        except pl.exceptions.PolarsError:
            raise HarnessError(
                f"{self.path.name}: its {self.on} values do not read as {dtype}, the type the "
                f"main file's {self.on} has; give the key one type in both files"
            ) from None


class TableReader:
    """Reads a card's main file (with its side tables) as canonical blocks.

    Args:
        card: the dataset card.
        path: the main file (one shard of a many-file dataset).
        side_files: one file per ``card.joins`` entry, in order.

    Raises:
        HarnessError: a column the card names is in none of the files, a type that does not
            fit, a join key that repeats in its side table; each message names file and column.
    """

    def __init__(self, card: DatasetCard, path: Path, side_files: Sequence[Path] = ()) -> None:
        if len(side_files) != len(card.joins):
            raise HarnessError(
                f"{card.path}: join: the card joins {len(card.joins)} side table(s), "
                f"got {len(side_files)} file(s)"
            )
        self.card = card
        self.path = Path(path)
        types = card.raw_types()
        main = file_columns(card, self.path)
        sides = [file_columns(card, Path(f)) for f in side_files]
        placed: dict[str, int] = {}  # column -> -1 for the main file, else the join's index
        for column in types:
            if column in main:
                placed[column] = -1
                continue
            holder = next((i for i, cols in enumerate(sides) if column in cols), None)
            if holder is None:
                held = [
                    f"{Path(f).name} has {', '.join(cols)}"
                    for f, cols in zip((self.path, *side_files), (main, *sides), strict=True)
                ]
                raise HarnessError(
                    f"{card.path}: column {column!r} is in none of the files ({'; '.join(held)}); "
                    "fix its name in the card"
                )
            placed[column] = holder
        for i, join in enumerate(card.joins):
            for where, cols in ((self.path, main), (Path(side_files[i]), sides[i])):
                if join.on not in cols:
                    raise HarnessError(
                        f"{card.path}: join[{i}].on: {where.name} has no column {join.on!r}"
                    )
        self.main_columns = self._read_columns(types, placed, -1, main)
        self.main_names = tuple(main)
        self.side_columns = tuple(
            self._read_columns(types, placed, i, sides[i], key=join.on)
            for i, join in enumerate(card.joins)
        )
        self.sides = tuple(
            _Side(_load_side(card, Path(f), columns, join.on, tuple(names)), join.on, Path(f))
            for f, columns, join, names in zip(
                side_files, self.side_columns, card.joins, sides, strict=True
            )
        )
        read = {c.name: c.type for c in self.main_columns}
        for columns in self.side_columns:
            read.update({c.name: c.type for c in columns if c.name not in read})
        self._exprs = _canonical_exprs(card, read)

    def _read_columns(
        self,
        types: Mapping[str, str],
        placed: Mapping[str, int],
        holder: int,
        in_file: Mapping[str, str],
        *,
        key: str | None = None,
    ) -> tuple[ReadColumn, ...]:
        card = self.card
        allowed: dict[str, tuple[int | float | str, ...] | None] = {}
        for task in card.tasks:
            if task.column in allowed and allowed[task.column] != task.values:
                raise HarnessError(
                    f"{card.path}: tasks.{task.name}.values: differs from another task's values "
                    f"for column {task.column!r}; give both the same list"
                )
            allowed[task.column] = task.values
        required = {t.column for t in card.tasks} | {c for c in (card.time, card.group) if c}
        out = []
        for column, kind in types.items():
            if placed[column] != holder and column != key:
                continue
            resolved = kind if kind != "auto" else in_file.get(column, "string")
            out.append(
                ReadColumn(
                    column,
                    resolved,
                    allowed=allowed.get(column),
                    required=column in required,
                )
            )
        if key is not None and all(c.name != key for c in out):
            out.append(ReadColumn(key, in_file.get(key, "string")))
        return tuple(out)

    def blocks(self, *, block_bytes: int, bad_rows: BadRows = "error") -> Iterator[Block]:
        """The main file's canonical blocks in file order (see the module docstring)."""
        rights: list[pl.DataFrame] | None = None
        for block in _iter(self.card, self.path, self.main_columns, self.main_names, block_bytes,
                           bad_rows):  # fmt: skip
            frame = block.frame
            if rights is None:  # the key types are the main file's: the same in every block
                rights = [side.keyed_as(frame.schema[side.on]) for side in self.sides]
            for side, right in zip(self.sides, rights, strict=True):
                frame = frame.join(right, on=side.on, how="left", maintain_order="left")
            yield dataclasses.replace(block, frame=frame.select(self._exprs))


def _iter(
    card: DatasetCard,
    path: Path,
    columns: tuple[ReadColumn, ...],
    names: tuple[str, ...],
    block_bytes: int,
    bad_rows: BadRows,
) -> Iterator[Block]:
    if card.format == "parquet":
        return iter_parquet_blocks(
            path,
            columns,
            block_bytes=block_bytes,
            bad_rows=bad_rows,
            missing_values=card.missing_values,
        )
    layout = TextLayout(
        names=names,
        read=columns,
        separator=card.delimiter,
        quote=_quote(card),
        header=card.header,
        missing_values=card.missing_values,
    )
    return iter_text_blocks(path, layout, block_bytes=block_bytes, bad_rows=bad_rows)


def _load_side(
    card: DatasetCard, path: Path, columns: tuple[ReadColumn, ...], on: str, names: tuple[str, ...]
) -> pl.DataFrame:
    """A side table read whole, by the same readers (and missing values) as the main file."""
    blocks = _iter(card, path, columns, names, 1 << 26, "error")
    frame = pl.concat([b.frame for b in blocks], rechunk=True)
    repeated = frame.filter(pl.col(on).is_duplicated())
    if repeated.height:
        key = repeated[on][0]
        times = repeated.filter(pl.col(on).eq_missing(key)).height
        raise HarnessError(
            f"{path.name}: {on} {key!r} appears {times} times; a joined table needs one row per key"
        )
    return frame


def _key(name: str, kind: str, source: str | None = None) -> pl.Expr:
    """A categorical or group column as an integer key (see the module docstring)."""
    column = pl.col(source or name)
    if kind == "hex":
        return column.alias(name)
    if kind == "string":
        return pl.when(column.is_null()).then(None).otherwise(column.hash(seed=0)).alias(name)
    if kind == "float":
        column = column.cast(pl.Int64, strict=False)
    return column.cast(pl.Int64).reinterpret(signed=False).alias(name)


def _canonical_exprs(card: DatasetCard, read: Mapping[str, str]) -> list[pl.Expr]:
    exprs: list[pl.Expr] = []
    for c in card.features:
        if c.role == "numeric":
            col = pl.col(c.name)
            exprs.append(col.fill_nan(None) if read[c.name] == "float" else col)
    for d in card.derived:
        if d.role == "numeric":
            value = DERIVATIONS[d.op].expr(pl.col(d.source).cast(pl.Int64))
            exprs.append(value.cast(pl.Float64).alias(d.name))
    for c in card.features:
        if c.role == "categorical":
            exprs.append(_key(c.name, read[c.name]))
    for d in card.derived:
        if d.role == "categorical":
            value = DERIVATIONS[d.op].expr(pl.col(d.source).cast(pl.Int64))
            exprs.append(value.cast(pl.Int64).reinterpret(signed=False).alias(d.name))
    for t in card.tasks:
        col = pl.col(t.column)
        if t.threshold is not None:
            op, bound = t.threshold
            label = {"ge": col >= bound, "gt": col > bound, "le": col <= bound, "lt": col < bound}
            exprs.append(label[op].cast(pl.UInt8).alias(task_column(t.name)))
        else:
            exprs.append(
                col.is_in(list(t.positive or ())).cast(pl.UInt8).alias(task_column(t.name))
            )
    if card.group is not None:
        exprs.append(_key(GROUP, read[card.group], source=card.group))
    if card.time is not None:
        exprs.append(pl.col(card.time).cast(pl.Float64).alias(TIME))
    for name in card.text:
        exprs.append(pl.col(name).cast(pl.String).alias(text_column(name)))
    for name in card.vectors:
        exprs.append(pl.col(name).cast(pl.List(pl.Float32)).alias(vector_column(name)))
    return exprs
