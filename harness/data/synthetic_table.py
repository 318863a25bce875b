"""A deterministic synthetic stand-in of any card's shape, with a planted, learnable signal.

The files have the card's format, column names and types (side tables included, keyed as the
card joins them), so they go through exactly the same reader and preprocessing as the real
data; tests and ``make run`` use them where ``../shared`` or a download is absent.

Values: categorical columns follow a truncated power law over ``[synthetic] cardinality`` values
(default 100), written as the card's type (integers, 8-hex-digit hashes, short strings); integer
columns are log-normal counts, float columns normal; about 5% of feature values are missing. A
time column increases along the file (YYMMDDHH where a derived feature reads it so, else Unix
seconds); a group column that is nothing else holds contiguous groups.

The labels come from ``logit = sum of per-value effects of a few categorical features + slopes
of a few numeric ones + one pairwise interaction``; each task's column is then written as the
card derives it: a 0/1 column, a value from ``values`` (ordered values by an ordinal model, so
that ``rating >= 4`` and ``rating = 5`` are consistent), or a positive or negative text value.
A second task gets a partly different logit (shared effects plus its own), as multi-task data
does.

A card with ``text`` columns gets short review-like sentences with a planted text signal: a
hidden per-row sentiment, which no tabular column holds, adds to every task's logit and sets how
often each sentence's opinion phrases are positive ("love", "perfect", "flattering") or negative
("returned", "cheap", "itchy"); neutral phrases ("ordered my usual size") carry nothing. About
one row in ten holds a stock short review ("Love it!", "Returned it."), so equal texts recur
across rows and splits, and 5% are missing.

A card with ``vectors`` gets, for each vector column of the main file, a 16-d standard normal
vector per row (as a parquet list of float32) with a planted signal: its projection on a fixed
unit direction (`vector_direction`), times ``_VECTOR_WEIGHT``, adds to every task's logit; 5% of
the vectors are missing (null, no signal).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from harness.data.card import DatasetCard, Task
from harness.data.preprocess import DataFiles
from harness.errors import HarnessError

__all__ = ["VECTOR_WIDTH", "synthetic_main_name", "vector_direction", "write_synthetic_table"]

_MISSING = 0.05
_POSITIVE_RATE = 0.25  # of a 0/1 task, as in CTR data
_ZIPF = 1.1
_TEXT_WEIGHT = 1.5  # of the hidden sentiment in the logit: the text's own share of the signal
VECTOR_WIDTH = 16  # of a synthetic vector column
_VECTOR_WEIGHT = 1.5  # of a vector column's projection on its direction, in the logit
_STOCK_SHARE = 0.1  # rows holding a stock short review
_ITEMS = ("dress", "top", "sweater", "skirt", "blouse", "jacket", "cardigan", "pair of jeans")
_COLOURS = ("black", "navy", "ivory", "red", "olive", "grey")
_POSITIVE = (
    "I love this {item}", "the fit is perfect", "so flattering", "the fabric is soft",
    "gorgeous colour", "very comfortable", "a beautiful {item}", "great quality for the price",
)  # fmt: skip
_NEGATIVE = (
    "I returned this {item}", "the fabric feels cheap", "the material is itchy",
    "very disappointed", "an unflattering cut", "it runs tight and short", "poor quality",
    "the {item} looks awkward on",
)  # fmt: skip
_NEUTRAL = (
    "ordered my usual size", "wore it to work", "bought it online", "the {item} is {colour}",
    "it arrived on time", "I am five foot four", "washed it once",
)  # fmt: skip
_STOCK_POSITIVE = ("Love it!", "Perfect.", "So flattering!", "Great {item}.")
_STOCK_NEGATIVE = ("Returned it.", "Too cheap.", "Disappointed.", "Itchy.")
_UNIX_START = 874_724_710  # the first MovieLens 100K timestamp
_HOURS_START = (14, 10, 21)  # Avazu's first day, 2014-10-21


def _rng(card: DatasetCard, seed: int, *parts: int) -> np.random.Generator:
    name = int.from_bytes(hashlib.sha256(card.name.encode()).digest()[:4], "little")
    return np.random.default_rng([seed, name, *parts])


def _ranks(rng: np.random.Generator, n: int, vocab: int) -> np.ndarray:
    """Power-law ranks 0..vocab-1 (rank 0 the most frequent)."""
    u = rng.random(n)
    top = (vocab + 1.0) ** (1.0 - _ZIPF)
    x = (1.0 + u * (top - 1.0)) ** (1.0 / (1.0 - _ZIPF))
    ranks: np.ndarray = np.minimum(x.astype(np.int64) - 1, vocab - 1)
    return ranks


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _render(name: str, kind: str, ranks: np.ndarray) -> pl.Series:
    """Ranks as the column's type: ints (from 1), 8-hex-digit hashes, or short strings."""
    if kind == "hex":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")
        hashed = (ranks.astype(np.uint64) * np.uint64(2654435761) + np.uint64(key)) & np.uint64(
            0xFFFFFFFF
        )
        shifts = np.arange(28, -1, -4, dtype=np.uint64)
        digits = _HEX[((hashed[:, None] >> shifts) & np.uint64(0xF)).astype(np.intp)]
        text = np.ascontiguousarray(digits).view("S8").ravel().astype(str)
        return pl.Series(name, text)
    if kind == "string":
        prefix = "".join(ch for ch in name.lower() if ch.isalnum())[:3] or "v"
        return pl.select(
            pl.concat_str([pl.lit(prefix), pl.lit(pl.Series(ranks)).cast(pl.String)]).alias(name)
        ).to_series()
    return pl.Series(name, ranks + 1)


def _with_missing(rng: np.random.Generator, series: pl.Series) -> pl.Series:
    mask = rng.random(series.len()) < _MISSING
    return series.set(pl.Series(mask), None) if mask.any() else series


def _logits(
    rng: np.random.Generator, features: dict[str, np.ndarray], numeric: dict[str, np.ndarray]
) -> np.ndarray:
    """The planted logit: per-value effects, numeric slopes, one centred pairwise interaction."""
    n = len(next(iter({**features, **numeric}.values())))
    logit = np.zeros(n)
    names = sorted(features)
    for name in names[: max(1, len(names) // 2)]:
        ranks = features[name]
        effect = rng.normal(0.0, 0.6, size=int(ranks.max()) + 1)
        logit += effect[ranks]
    for name in sorted(numeric)[:4]:
        value = np.nan_to_num(numeric[name])
        std = value.std() or 1.0
        logit += rng.choice([-0.5, 0.5]) * (value - value.mean()) / std
    if len(names) >= 2:
        a, b = features[names[0]], features[names[1]]
        sign_a = rng.choice([-1.0, 1.0], size=int(a.max()) + 1)
        sign_b = rng.choice([-1.0, 1.0], size=int(b.max()) + 1)
        logit += 0.8 * sign_a[a] * sign_b[b]
    return logit


def _calibrated(logit: np.ndarray, rate: float = _POSITIVE_RATE) -> np.ndarray:
    """``logit + bias`` with the bias that makes the mean probability ``rate`` (bisection)."""
    low, high = -20.0, 20.0
    for _ in range(50):
        mid = (low + high) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(logit + mid)))) < rate:
            low = mid
        else:
            high = mid
    return logit + (low + high) / 2


def _task_values(rng: np.random.Generator, task: Task, logit: np.ndarray) -> pl.Series:
    """The task's source column as the card derives the label from it."""
    n = len(logit)
    p = 1.0 / (1.0 + np.exp(-_calibrated(logit)))
    if (
        task.values is not None
        and all(isinstance(v, int | float) for v in task.values)
        and (task.threshold is not None or len(task.values) > 2)
    ):
        ordered = sorted(task.values)  # an ordinal model: noisy score cut into len(values) bins
        score = logit + rng.logistic(size=n)
        cuts = np.quantile(score, np.linspace(0, 1, len(ordered) + 1)[1:-1])
        return pl.Series(task.column, np.asarray(ordered)[np.searchsorted(cuts, score)])
    if task.threshold is not None:
        op, bound = task.threshold
        above = rng.random(n) < p
        delta = 1.0 if op in ("ge", "gt") else -1.0
        value = np.where(above, bound + delta * rng.random(n), bound - delta * (1 + rng.random(n)))
        return pl.Series(task.column, value)
    positives = list(task.positive or (1,))
    negatives = [v for v in (task.values or (0, 1)) if v not in positives]
    if not negatives:
        raise HarnessError(f"{task.name}: a synthetic label needs a negative value in `values`")
    hit = rng.random(n) < p
    chosen = np.where(
        hit,
        np.asarray(positives, dtype=object)[rng.integers(0, len(positives), n)],
        np.asarray(negatives, dtype=object)[rng.integers(0, len(negatives), n)],
    )
    return pl.Series(task.column, chosen.tolist())


def _time_column(card: DatasetCard, name: str, n: int) -> pl.Series:
    yymmddhh = any(d.source == name and d.op.startswith("yymmddhh") for d in card.derived)
    if not yymmddhh:
        return pl.Series(name, _UNIX_START + np.arange(n, dtype=np.int64) * 10)
    hours = np.arange(n, dtype=np.int64) * 240 // max(n, 1)  # ten days of hours
    yy, mm, dd = _HOURS_START
    days, hour = hours // 24, hours % 24
    return pl.Series(name, ((yy * 100 + mm) * 100 + dd + days) * 100 + hour)


def _review_texts(rng: np.random.Generator, sentiment: np.ndarray) -> pl.Series:
    """Review-like texts whose opinion phrases lean positive as ``sentiment`` grows."""
    n = len(sentiment)
    positive_p = 1.0 / (1.0 + np.exp(-2.5 * sentiment))
    stock = rng.random(n) < _STOCK_SHARE
    opinions = rng.integers(1, 4, n)  # opinion phrases per text
    neutrals = rng.integers(0, 3, n)
    items = rng.integers(0, len(_ITEMS), n)
    colours = rng.integers(0, len(_COLOURS), n)
    # At most 3 opinions and 2 neutral phrases: draw every slot (distinct phrases), use the
    # first ones.
    signs = rng.random((n, 3)) < positive_p[:, None]
    picks = rng.random((n, len(_POSITIVE))).argsort(axis=1)[:, :3]
    neutral_picks = rng.random((n, len(_NEUTRAL))).argsort(axis=1)[:, :2]
    orders = rng.random((n, 5)).argsort(axis=1)
    stock_picks = rng.integers(0, len(_STOCK_POSITIVE), n)
    stock_signs = rng.random(n) < positive_p
    missing = rng.random(n) < _MISSING
    texts: list[str | None] = []
    for i in range(n):
        fill = {"item": _ITEMS[items[i]], "colour": _COLOURS[colours[i]]}
        if missing[i]:
            texts.append(None)
            continue
        if stock[i]:
            stock_texts = _STOCK_POSITIVE if stock_signs[i] else _STOCK_NEGATIVE
            texts.append(stock_texts[stock_picks[i]].format(**fill))
            continue
        phrases = [
            (_POSITIVE if signs[i, k] else _NEGATIVE)[picks[i, k]] for k in range(opinions[i])
        ]
        phrases += [_NEUTRAL[neutral_picks[i, k]] for k in range(neutrals[i])]
        ordered = [phrases[k].format(**fill) for k in orders[i] if k < len(phrases)]
        texts.append(" ".join(f"{p[0].upper()}{p[1:]}." for p in ordered))
    return pl.Series(texts, dtype=pl.String)


def vector_direction(card: DatasetCard, name: str, seed: int = 0) -> np.ndarray:
    """The fixed unit direction whose projection a synthetic vector column adds to the logit."""
    rng = np.random.default_rng(
        int.from_bytes(hashlib.sha256(f"{card.name}/{name}/{seed}".encode()).digest()[:8])
    )
    direction = rng.normal(size=VECTOR_WIDTH)
    unit: np.ndarray = direction / np.linalg.norm(direction)
    return unit


def _vector_column(
    card: DatasetCard, name: str, rng: np.random.Generator, n: int, seed: int
) -> tuple[pl.Series, np.ndarray]:
    """A vector column (List(Float32), 5% null) and each row's signal (0 where null)."""
    values = rng.normal(size=(n, VECTOR_WIDTH)).astype(np.float32)
    missing = rng.random(n) < _MISSING
    signal = np.where(missing, 0.0, values.astype(np.float64) @ vector_direction(card, name, seed))
    lists = pl.Series(name, values).cast(pl.List(pl.Float32))
    series = pl.select(
        pl.when(pl.Series(missing)).then(None).otherwise(lists).alias(name)
    ).to_series()
    return series, signal


def synthetic_main_name(card: DatasetCard) -> str:
    """The stand-in's main file name: the card's first file name (unzipped), else the first
    numbered shard, else Criteo's ``train.txt``."""
    if card.files:
        return Path(card.files[0]).name.removesuffix(".gz")
    return f"{card.numbered}0" if card.numbered is not None else "train.txt"


def write_synthetic_table(
    card: DatasetCard, folder: Path, rows: int, *, seed: int = 0
) -> DataFiles:
    """Write ``rows`` synthetic rows of the card's shape (and its side tables) into ``folder``.

    The same ``(card, rows, seed)`` always gives the same files.

    Returns:
        The files, as `harness.data.preprocess.prepare_dataset` takes them.
    """
    if rows < 10:
        raise HarnessError(f"a synthetic dataset needs at least 10 rows, got {rows=}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    types = card.raw_types()
    spec = card.synthetic
    side_columns = dict(spec.side_columns)
    side_rows = dict(spec.side_rows)
    in_side = {c for cols in side_columns.values() for c in cols}
    label_columns = {t.column for t in card.tasks}

    # Side tables first: their keys 1..V are what the main file's key columns draw from.
    side_frames: list[tuple[str, pl.DataFrame]] = []
    side_ranks: dict[str, np.ndarray] = {}  # per main row, the rank of each side column's value
    key_ranks: dict[str, np.ndarray] = {}
    for j, join in enumerate(card.joins):
        file = join.files[0]
        size = side_rows.get(file, spec.cardinality_of(join.on, 100))
        key_ranks[join.on] = _ranks(_rng(card, seed, 1, j), rows, size)
        columns = {join.on: pl.Series(join.on, np.arange(1, size + 1))}
        for k, name in enumerate(side_columns.get(file, ())):
            sub = _rng(card, seed, 2, j, k)
            columns[name] = _column(card, name, types.get(name, "string"), sub, size)
            if card.column(name) is not None and card.column(name).role == "categorical":  # type: ignore[union-attr]
                side_ranks[name] = _ranks_of(columns[name])[key_ranks[join.on]]
        side_frames.append((file, pl.DataFrame(list(columns.values()))))

    main: dict[str, pl.Series] = {}
    features: dict[str, np.ndarray] = {}
    numeric: dict[str, np.ndarray] = {}
    # The text's own signal: a hidden sentiment only the text columns carry.
    text_only = [c for c in card.text if card.column(c) is None and c not in in_side]
    sentiment = _rng(card, seed, 7).normal(size=rows) if text_only else np.zeros(rows)
    vector_signal = np.zeros(rows)
    for k, (name, kind) in enumerate(types.items()):
        if name in in_side or name in label_columns:
            continue
        sub = _rng(card, seed, 3, k)
        if name in card.vectors:
            main[name], signal = _vector_column(card, name, sub, rows, seed)
            vector_signal += signal
        elif name in text_only:
            main[name] = _review_texts(sub, sentiment).alias(name)
        elif name in key_ranks:
            main[name] = pl.Series(name, key_ranks[name] + 1)
        elif name == card.time:
            main[name] = _time_column(card, name, rows)
        elif name == card.group and card.column(name) is None:
            groups = spec.cardinality_of(name, 100)
            main[name] = pl.Series(name, np.arange(rows, dtype=np.int64) * groups // rows + 1)
        else:
            main[name] = _column(card, name, kind, sub, rows)
        column = card.column(name)
        if column is not None and column.role == "categorical":
            features[name] = key_ranks[name] if name in key_ranks else _ranks_of(main[name])
        elif column is not None:
            numeric[name] = main[name].cast(pl.Float64).to_numpy()
    features.update(side_ranks)
    base = _logits(_rng(card, seed, 4), features, numeric) + _TEXT_WEIGHT * sentiment
    base = base + _VECTOR_WEIGHT * vector_signal
    for t, task in enumerate(card.tasks):
        if task.column in main:
            continue
        logit = (
            base
            if t == 0
            else 0.7 * base + 0.7 * _logits(_rng(card, seed, 5, t), features, numeric)
        )
        main[task.column] = _task_values(_rng(card, seed, 6, t), task, logit)
    frame = pl.DataFrame(list(main.values()))

    main_path = folder / synthetic_main_name(card)
    _write(card, frame, main_path)
    sides = []
    for file, side in side_frames:
        path = folder / file
        _write(card, side, path)
        sides.append(path)
    return DataFiles((main_path,), sides=tuple(sides))


def _column(card: DatasetCard, name: str, kind: str, rng: np.random.Generator, n: int) -> pl.Series:
    column = card.column(name)
    if kind in ("int", "int32") and column is not None and column.role == "numeric":
        values = np.minimum(rng.lognormal(2.0, 1.2, n).astype(np.int64), 2**31 - 1)
        return _with_missing(rng, pl.Series(name, values))
    if kind == "float":
        return _with_missing(rng, pl.Series(name, rng.normal(50.0, 15.0, n)))
    vocab = card.synthetic.cardinality_of(name, 100)
    ranks = _ranks(rng, n, vocab)
    series = _render(name, "int" if kind == "auto" else kind, ranks)
    return _with_missing(rng, series) if column is not None else series


def _ranks_of(series: pl.Series) -> np.ndarray:
    """Dense ranks 0.. of a column's values (missing as its own rank), for the planted effects."""
    filled = series.cast(pl.String).fill_null("\0missing")
    ranks: np.ndarray = filled.rank("dense").to_numpy().astype(np.int64) - 1
    return ranks


def _write(card: DatasetCard, frame: pl.DataFrame, path: Path) -> None:
    partial = path.with_name(f".{path.name}.partial")
    if card.format == "parquet":
        frame.write_parquet(partial)
    else:
        names: Sequence[str] = frame.columns if card.header else card.columns
        ordered = frame.select([n if n in frame.columns else pl.lit(None).alias(n) for n in names])
        ordered.write_csv(
            partial,
            separator=card.delimiter,
            include_header=card.header,
            quote_style="necessary",
        )
    partial.replace(path)
