"""``harness data init``: draft a dataset card for a user's own file, types inferred from a sample.

The draft is TOML a person reads and edits: every column's role and type with the reason it was
chosen (``# 7 distinct values in 100,000 rows: categorical``), the label's derivation, the
columns left out and why. Inference, on the first ``SAMPLE_ROWS`` rows:

- the label: ``{0, 1}`` as it is; two other values: the rarer is the positive one; more
  numbers: above the median is positive (a threshold); anything else asks for ``--positive``;
- integers: categorical when the name says id (``user_id``, ``adId``) or there are at most
  ``FEW_VALUES`` distinct values, else numeric;
- floats: numeric; booleans: categorical;
- text: ``hex`` when every value is 8 hex digits, ``text`` (left for text encoders) when values
  are long and mostly distinct, else categorical ``string``;
- a column with a distinct value in every row (a row id) and date-time columns are left out.
"""

from __future__ import annotations

import gzip
import math
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from harness.errors import HarnessError

__all__ = ["FEW_VALUES", "SAMPLE_ROWS", "Draft", "draft_card"]

SAMPLE_ROWS = 100_000
FEW_VALUES = 10
_ID_NAME = re.compile(r"(^|[_\W])(id|ids)$|Id$|ID$", re.IGNORECASE)
_HEX8 = r"^[0-9a-fA-F]{8}$"
_TEXT_LENGTH = 40  # mean characters above which a mostly-distinct string column is free text


@dataclass(frozen=True)
class Draft:
    """A drafted card: its TOML text and what was inferred (for the command's summary)."""

    text: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    skipped: tuple[str, ...]


def _format_of(path: Path) -> tuple[str, str]:
    """``(format, separator)`` from the file's name and first bytes."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".parquet") or name.endswith(".pq"):
        return "parquet", ""
    with path.open("rb") as raw:
        magic = raw.read(2)
    if magic == b"\x1f\x8b":
        with gzip.open(path, "rt", errors="replace") as f:
            first = f.readline()
    else:
        with path.open(errors="replace") as f:
            first = f.readline()
    if name.endswith(".tsv") or first.count("\t") > first.count(","):
        return "tsv", "\t"
    return "csv", ","


def _sample(path: Path, fmt: str, separator: str) -> pl.DataFrame:
    try:
        if fmt == "parquet":
            return pl.scan_parquet(path).head(SAMPLE_ROWS).collect()
        return pl.read_csv(
            path,
            separator=separator,
            n_rows=SAMPLE_ROWS,
            infer_schema_length=SAMPLE_ROWS,
            quote_char='"' if fmt == "csv" else None,
        )
    except (pl.exceptions.PolarsError, OSError) as e:
        raise HarnessError(f"{path}: cannot read a sample ({' '.join(str(e).split())})") from None


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


def _value(v: object) -> str:
    return f'"{v}"' if isinstance(v, str) else repr(v)


def _label(sample: pl.DataFrame, column: str, positive: str | None, text: bool) -> list[str]:
    """The TOML lines of the task table (with a comment on how positives were chosen)."""
    series = sample[column].drop_nulls()
    if series.is_empty():
        raise HarnessError(f"--label {column}: the column has no values in the sample")
    if series.dtype == pl.Boolean and text and positive is None:  # the words, not 0/1
        return [
            "# true/false: true is the positive class",
            f"column = {_value(column)}",
            'positive = ["true"]',
            'values = ["false", "true"]',
        ]
    values = sorted(series.unique().to_list(), key=str)
    lines = [f"column = {_value(column)}"]
    if positive is not None:
        chosen = next((v for v in values if str(v) == positive), None)
        if chosen is None:
            shown = ", ".join(map(str, values[:10]))
            raise HarnessError(f"--positive {positive}: not a value of {column} ({shown})")
        lines += [f"positive = [{_value(chosen)}]", f"values = [{', '.join(map(_value, values))}]"]
        return lines
    if set(values) <= {0, 1}:
        if series.dtype.is_float():  # read as floats: the values must say so
            lines += ["positive = [1.0]", "values = [0.0, 1.0]"]
        return ["# 0/1 values: 1 is the positive class", *lines]
    if len(values) == 2:
        counts = series.value_counts().sort("count")
        rare = counts[column][0]
        return [
            f"# two values: the rarer ({rare!r}) is taken as positive; check it (or --positive)",
            *lines,
            f"positive = [{_value(rare)}]",
            f"values = [{', '.join(map(_value, values))}]",
        ]
    if series.dtype.is_numeric():
        median = float(series.cast(pl.Float64).median() or 0.0)  # type: ignore[arg-type]
        bound = math.floor(median) + 1  # for integers: above the median
        allowed = f"values = [{', '.join(map(_value, values))}]" if len(values) <= 20 else ""
        return [
            f"# {len(values)} numeric values: above the median ({median:g}) is positive; check it",
            *lines,
            f"positive = {{ gt = {median:g} }}"
            if not series.dtype.is_integer()
            else f"positive = {{ ge = {bound} }}",
            *([allowed] if allowed else []),
        ]
    raise HarnessError(
        f"--label {column}: {len(values)} text values; say which means 1 with --positive VALUE"
    )


def _role(sample: pl.DataFrame, name: str, *, text_file: bool = False) -> tuple[str, str, str]:
    """``(role, type, reason)`` of a feature column; role ``skip`` or ``text`` leaves it out.

    ``text_file``: the sample was read from CSV/TSV, where true/false are read as strings.
    """
    series = sample[name]
    rows = sample.height
    present = series.drop_nulls()
    distinct = present.n_unique()
    where = f"{distinct:,} distinct values in {rows:,} rows"
    dtype = series.dtype
    if present.is_empty():
        return "skip", "", "no value in the sample"
    if dtype.is_temporal():
        return "skip", "", "a date or time: convert it to Unix seconds to use it"
    if dtype == pl.String:  # free text is often unique per row: not a row id
        length = float(present.str.len_chars().cast(pl.Float64).mean() or 0.0)  # type: ignore[arg-type]
        hex8 = bool(present.str.contains(_HEX8).all())
        if not hex8 and length > _TEXT_LENGTH and distinct > 0.5 * present.len():
            return "text", "", f"free text ({length:.0f} characters on average)"
    if distinct == rows and rows > FEW_VALUES and not dtype.is_float():
        return "skip", "", f"{where}: a row id carries no signal"
    if dtype == pl.Boolean:
        return "categorical", "string" if text_file else "int", "true/false"
    if dtype.is_integer():
        if _ID_NAME.search(name):
            return "categorical", "int", f"an id ({where})"
        if distinct <= FEW_VALUES:
            return "categorical", "int", f"{where}: categorical"
        return "numeric", "int", f"{where}: a number"
    if dtype.is_float():
        whole = bool((present == present.floor()).all())
        if whole and _ID_NAME.search(name):  # a nullable integer id, stored as floats
            return "categorical", "int", f"an id stored as whole floats ({where})"
        return "numeric", "float", where
    text = present.cast(pl.String)
    if bool(text.str.contains(_HEX8).all()):
        return "categorical", "hex", f"8 hex digits ({where})"
    length = float(text.str.len_chars().cast(pl.Float64).mean() or 0.0)  # type: ignore[arg-type]
    if length > _TEXT_LENGTH and distinct > 0.5 * present.len():
        return "text", "", f"free text ({length:.0f} characters on average)"
    return "categorical", "string", where


def draft_card(
    path: Path,
    *,
    label: str,
    name: str | None = None,
    positive: str | None = None,
    group: str | None = None,
    time: str | None = None,
) -> Draft:
    """A dataset card for ``path`` (CSV, TSV, parquet; plain or gzip) with ``label`` as task.

    Raises:
        HarnessError: unreadable file, or a ``label``/``group``/``time`` the file lacks.
    """
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path}: no such file")
    fmt, separator = _format_of(path)
    sample = _sample(path, fmt, separator)
    for flag, column in (("--label", label), ("--group", group), ("--time", time)):
        if column is not None and column not in sample.columns:
            raise HarnessError(
                f"{flag} {column}: {path.name} has no such column ({', '.join(sample.columns)})"
            )
    if time is not None:
        dtype = sample[time].dtype
        if not (dtype.is_numeric() or (dtype.is_temporal() and fmt == "parquet")):
            raise HarnessError(
                f"--time {time}: a {dtype} column; the time column must hold numbers (Unix "
                "seconds, YYMMDDHH) or, in parquet, date-times"
            )
    stem = name or re.sub(r"[^a-z0-9-]+", "-", path.name.lower().split(".")[0]).strip("-")
    protocol = "time" if time else ("group" if group else "x4")
    lines = [
        f"# Drafted by `harness data init {path.name} --label {label}` from its first "
        f"{sample.height:,} rows.",
        "# Check every role and type below; `harness run --data FILE --card THIS` runs it.",
        f'name = "{stem}"',
        f'title = "{stem}"',
        'description = ""',
        'licence = "not stated: say under which terms the data may be used"',
        f'format = "{fmt}"',
        *(["header = true"] if fmt != "parquet" else []),
        f'files = ["{path.name}"]',
        f'protocol = "{protocol}"',
        "min_count = 2",
        *([f'group = "{group}"'] if group else []),
        *([f'time = "{time}"'] if time else []),
        "",
        f"[tasks.{_toml_key(label)}]",
        *_label(sample, label, positive, text=fmt != "parquet"),
    ]
    numeric: list[tuple[str, str, str]] = []
    categorical: list[tuple[str, str, str]] = []
    skipped: list[tuple[str, str]] = []
    text: list[str] = []
    for column in sample.columns:
        if column in (label, time):
            continue
        if column == group:
            skipped.append(
                (column, "the group column (add it under [categorical] to use it as a feature)")
            )
            continue
        role, kind, reason = _role(sample, column, text_file=fmt != "parquet")
        if role == "numeric":
            numeric.append((column, kind, reason))
        elif role == "categorical":
            categorical.append((column, kind, reason))
        elif role == "text":
            text.append(column)
            skipped.append((column, reason))
        else:
            skipped.append((column, reason))
    if text:
        lines.insert(lines.index(""), f"text = [{', '.join(map(_value, text))}]")
    for section, columns in (("numeric", numeric), ("categorical", categorical)):
        if columns:
            lines += ["", f"[{section}]"]
            lines += [f'{_toml_key(c)} = "{k}"  # {r}' for c, k, r in columns]
    if skipped:
        lines += ["", "# Left out (add them above to use them):"]
        lines += [f"#   {c}: {r}" for c, r in skipped]
    if not numeric and not categorical:
        raise HarnessError(f"{path.name}: no column besides --label could be a feature")
    return Draft(
        text="\n".join(lines) + "\n",
        numeric=tuple(c for c, _, _ in numeric),
        categorical=tuple(c for c, _, _ in categorical),
        skipped=tuple(c for c, _ in skipped),
    )
