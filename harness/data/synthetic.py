"""A Criteo-shaped synthetic file with a planted, learnable signal.

The text is in the raw Criteo format (40 tab-separated fields, empty for missing, 8 lowercase hex
digits per hash, negative values in ``I2``), so it goes through exactly the same reader and
preprocessing as the real data. Categorical values follow truncated power laws (Zipf-like) over
per-field vocabularies of 3 to 10^6 values, so the observed cardinality grows with the row count as
in the real logs.

The label is drawn from ``sigmoid(logit)`` with

    logit = bias
          + per-value effects of several categorical fields          (additive, learnable by LR)
          + monotone effects of log1p(I) for a few numeric fields     (additive)
          + w * s_a[C_a] * s_b[C_b]                                   (pure pairwise interaction)

where ``s_a``, ``s_b`` are random ±1 signs per value, each centred on its mean under its field's
value distribution: the interaction then has zero mean given either field alone (no main effect),
so an additive model cannot learn it and a model with feature crosses can. The bias is calibrated
so that the click rate is about 25%. `synthetic_criteo_truth` returns the true logit, whose
probabilities are the Bayes-optimal predictions (their AUC is the ceiling any model can reach).

Generation is chunked with one random stream per chunk of ``CHUNK_ROWS`` rows
(``np.random.default_rng([seed, 1, chunk])``), so memory is bounded whatever the row count, the
bytes depend on ``(n_rows, seed)`` only, and a shorter file is a prefix of a longer one.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from harness.data.criteo import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS
from harness.errors import HarnessError

__all__ = [
    "CHUNK_ROWS",
    "TARGET_CTR",
    "SyntheticTruth",
    "synthetic_criteo_truth",
    "write_synthetic_criteo",
]

CHUNK_ROWS = 1 << 16
TARGET_CTR = 0.25

# Per-field vocabulary sizes: Criteo Kaggle's cardinalities, the largest capped at 10^6.
_VOCAB = (1460, 583, 10**6, 500_000, 305, 24, 12517, 633, 3, 93145, 5683, 10**6, 3194, 27,
          14992, 800_000, 10, 5652, 2173, 4, 10**6, 18, 15, 286_181, 105, 142_572)  # fmt: skip
# Missing rates close to Criteo Kaggle's.
_CAT_MISSING = (0, 0, .034, .034, 0, .12, 0, 0, 0, 0, 0, .034, 0, 0, 0, .034, 0, 0, .44, .44,
                .034, .76, 0, .034, .44, .44)  # fmt: skip
_NUM_MISSING = (.45, 0, .21, .22, .026, .22, .04, .0005, .04, .45, .04, .77, .22)  # fmt: skip
# log-normal scale (mu, sigma) of each numeric field; I2 is shifted down by 3 (it has -1..-3).
_NUM_SCALE = ((0.5, 1.2), (1.5, 1.8), (2.0, 1.5), (1.6, 1.0), (8.0, 2.0), (4.0, 2.0), (1.5, 1.5),
              (2.5, 1.0), (3.5, 1.5), (0.3, 0.6), (1.0, 1.0), (0.3, 1.0), (1.5, 1.3))  # fmt: skip

# The planted signal: categorical fields with per-value effects (field index -> effect scale),
# numeric fields with monotone effects (field index -> slope on log1p), and one interaction.
# Scales chosen so the Bayes-optimal AUC is about 0.80 (as real Criteo's best models reach).
_CAT_EFFECTS = {
    0: 0.3,
    1: 0.36,
    4: 0.3,
    5: 0.42,
    7: 0.24,
    9: 0.36,
    12: 0.3,
    13: 0.36,
    18: 0.24,
    24: 0.3,
}
_NUM_EFFECTS = {0: 0.35, 6: -0.15, 10: 0.3, 12: -0.1}
_INTERACTION = (16, 22)  # C17 x C23: 10 x 15 values, no missing
_INTERACTION_WEIGHT = 0.8
_ZIPF_EXPONENT = 1.1  # fixed: `_draw` computes its power (-10) by products

_N_CAT = len(CATEGORICAL_COLUMNS)
_VOCAB_LAST = np.array(_VOCAB, dtype=np.int32) - 1
_TOP_MINUS_ONE = (np.array(_VOCAB, dtype=np.float64) + 1.0) ** (1.0 - _ZIPF_EXPONENT) - 1.0
_TOP_MINUS_ONE = _TOP_MINUS_ONE.astype(np.float32)
_CAT_MISSING_ARRAY = np.array(_CAT_MISSING, dtype=np.float32)
_CAT_HOLES = np.flatnonzero(_CAT_MISSING_ARRAY > 0)
_NUM_MISSING_ARRAY = np.array(_NUM_MISSING, dtype=np.float32)
_NUM_MU, _NUM_SIGMA = np.array(_NUM_SCALE, dtype=np.float32).T


@dataclass(frozen=True)
class SyntheticTruth:
    """What generated the labels, per row.

    Attributes:
        logit: the true logit (bias included); ``probability`` is the Bayes-optimal prediction.
        interaction: the pairwise C17 x C23 term inside ``logit`` (no additive model can fit it).
        label: the drawn 0/1 labels, as written to the file.
    """

    logit: np.ndarray
    interaction: np.ndarray
    label: np.ndarray

    @property
    def probability(self) -> np.ndarray:
        probability: np.ndarray = 1.0 / (1.0 + np.exp(-self.logit))
        return probability


@dataclass(frozen=True)
class _World:
    """Everything fixed by the seed: hash keys, effects, signs, bias."""

    keys: np.ndarray  # uint32 [26]: per-field key of the rank -> hash bijection
    effects: dict[int, np.ndarray]  # field -> float32 [vocab] effect per rank
    signs: tuple[np.ndarray, np.ndarray]  # centred ±1 per rank of the two interaction fields
    bias: float


def _make_world(seed: int) -> _World:
    rng = np.random.default_rng([seed, 0])
    keys = rng.integers(1, 2**32, size=_N_CAT, dtype=np.uint64).astype(np.uint32)
    effects = {
        f: (scale * rng.standard_normal(_VOCAB[f])).astype(np.float32)
        for f, scale in _CAT_EFFECTS.items()
    }
    signs = tuple(_centred_signs(rng, _VOCAB[f]) for f in _INTERACTION)
    world = _World(keys=keys, effects=effects, signs=(signs[0], signs[1]), bias=0.0)
    # Calibrate the bias on a sample from its own stream so the click rate is about TARGET_CTR.
    sample = _draw(np.random.default_rng([seed, 2]), CHUNK_ROWS * 2, world)
    return _World(keys, effects, world.signs, _calibrate_bias(sample.logit))


def _rank_probabilities(vocab: int) -> np.ndarray:
    """P(rank = r) under `_draw`'s truncated power law: rank r covers x in [r + 1, r + 2)."""
    edges = np.arange(1, vocab + 2, dtype=np.float64) ** (1.0 - _ZIPF_EXPONENT)
    probabilities: np.ndarray = np.diff(edges) / (edges[-1] - edges[0])
    return probabilities


def _centred_signs(rng: np.random.Generator, vocab: int) -> np.ndarray:
    """Random ±1 per rank minus their mean under the rank distribution (zero-mean per field)."""
    signs = rng.choice(np.array([-1.0, 1.0]), size=vocab)
    centred: np.ndarray = (signs - signs @ _rank_probabilities(vocab)).astype(np.float32)
    return centred


def _calibrate_bias(logit: np.ndarray) -> float:
    low, high = -20.0, 20.0
    for _ in range(60):
        mid = (low + high) / 2
        rate = float(np.mean(1.0 / (1.0 + np.exp(-(logit + mid)))))
        low, high = (mid, high) if rate < TARGET_CTR else (low, mid)
    return (low + high) / 2


@dataclass(frozen=True)
class _Chunk:
    ranks: np.ndarray  # int64 [n, 26], -1 where missing
    ints: np.ndarray  # int64 [n, 13]
    int_missing: np.ndarray  # bool [n, 13]
    logit: np.ndarray  # float64 [n], without the bias
    interaction: np.ndarray  # float32 [n], the pairwise term (included in logit)


def _draw(rng: np.random.Generator, n: int, world: _World) -> _Chunk:
    # Field-major arrays (one contiguous row per field) keep the per-field steps cache-friendly;
    # the chunk exposes row-major views.
    # Inverse CDF of a continuous power law on [1, V + 1), floored: ranks 0..V-1, rank 0 the mode.
    u = rng.random((_N_CAT, n), dtype=np.float32)
    # x = (1 + u * (top - 1)) ** (1 / (1 - s)); with s = 1.1 the power is -10: four products.
    y = np.float32(1.0) + u * _TOP_MINUS_ONE[:, None]
    y2 = y * y
    y8 = y2 * y2
    y8 *= y8
    x = np.float32(1.0) / (y8 * y2)
    ranks = np.minimum(x.astype(np.int32) - 1, _VOCAB_LAST[:, None])
    for f in _CAT_HOLES.tolist():
        ranks[f][rng.random(n, dtype=np.float32) < _CAT_MISSING[f]] = -1

    normal = rng.standard_normal((len(NUMERIC_COLUMNS), n), dtype=np.float32)
    magnitude = np.minimum(np.exp(_NUM_MU[:, None] + _NUM_SIGMA[:, None] * normal), 1e9)
    ints = np.minimum(magnitude.astype(np.int64), _INT_MAX)
    ints[1] -= 3
    int_missing = (
        rng.random((len(NUMERIC_COLUMNS), n), dtype=np.float32) < _NUM_MISSING_ARRAY[:, None]
    )

    logit = np.zeros(n, dtype=np.float64)
    for f, table in world.effects.items():
        logit += np.where(ranks[f] >= 0, table[ranks[f]], np.float32(0.0))
    for f, slope in _NUM_EFFECTS.items():
        effect = slope * np.log1p(np.maximum(ints[f], 0).astype(np.float32))
        logit += np.where(int_missing[f], np.float32(0.0), effect)
    fa, fb = _INTERACTION
    interaction = _INTERACTION_WEIGHT * world.signs[0][ranks[fa]] * world.signs[1][ranks[fb]]
    logit += interaction
    return _Chunk(
        ranks=ranks.T, ints=ints.T, int_missing=int_missing.T, logit=logit, interaction=interaction
    )


def _hash_ranks(ranks: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """A per-field bijection rank -> uint32 (xor-shift-multiply rounds), so values are distinct."""
    x: np.ndarray = ranks.astype(np.uint32) ^ keys
    for multiplier in (0x7FEB352D, 0x846CA68B):
        x ^= x >> np.uint32(16)
        x *= np.uint32(multiplier)
    x ^= x >> np.uint32(16)
    return x


def _pair_table(digits: bytes, base: int, width: int) -> np.ndarray:
    """Bytes of ``width`` base-``base`` digits of each value < base**width, packed little-endian."""
    alphabet = np.frombuffer(digits, dtype=np.uint8)
    values = np.arange(base**width)
    places = [(values // base**k) % base for k in reversed(range(width))]
    table: np.ndarray = alphabet[np.stack(places, axis=1)].copy().view(f"<u{width}").ravel()
    return table


_HEX4 = _pair_table(b"0123456789abcdef", 16, 4)  # 4 hex digits of each 16-bit value
_DEC2 = _pair_table(b"0123456789", 10, 2)  # 2 decimal digits of each value < 100
_INT_DIGITS = 8
_INT_MAX = 10**_INT_DIGITS - 1
_NUM_CELL = 1 + _INT_DIGITS + 1  # sign, digits, tab
_CAT_CELL = 8 + 1  # hex digits, tab (newline after the last field)
_TEXT_ROWS = 4096  # rows formatted at a time: their ~1.5 MB of byte cells stay in cache
_LINE = 2 + len(NUMERIC_COLUMNS) * _NUM_CELL + _N_CAT * _CAT_CELL


def _numeric_cells(
    ints: np.ndarray, missing: np.ndarray, cells: np.ndarray, keep: np.ndarray
) -> None:
    """Fill byte cells [n, 13, 10] (sign, 8 digits, tab) of the integers and their keep mask."""
    magnitude = np.abs(ints).astype(np.uint32)
    cells[:, :, 0] = ord("-")
    digits = cells[:, :, 1 : 1 + _INT_DIGITS]
    rest = magnitude
    for k in reversed(range(_INT_DIGITS // 2)):
        rest, low = np.divmod(rest, np.uint32(100))
        pair = _DEC2[low]
        digits[:, :, 2 * k] = pair & np.uint16(0xFF)
        digits[:, :, 2 * k + 1] = pair >> np.uint16(8)
    cells[:, :, -1] = ord("\t")
    present = ~missing
    keep[:, :, 0] = present & (ints < 0)
    # Digit k (0 = most significant) is printed when the value has more than 7 - k digits.
    keep[:, :, _INT_DIGITS] = present  # the units digit, also for 0
    for k in range(1, _INT_DIGITS):
        keep[:, :, _INT_DIGITS - k] = present & (magnitude >= np.uint32(10**k))
    keep[:, :, -1] = True


def _categorical_cells(
    ranks: np.ndarray, keys: np.ndarray, cells: np.ndarray, keep: np.ndarray
) -> None:
    """Fill byte cells [n, 26, 9] (8 hex digits, tab; newline after the last), keep mask."""
    hashed = _hash_ranks(ranks, keys)
    packed = np.empty((*hashed.shape, 2), dtype=np.uint32)
    packed[:, :, 0] = _HEX4[hashed >> np.uint32(16)]
    packed[:, :, 1] = _HEX4[hashed & np.uint32(0xFFFF)]
    cells[:, :, :8] = packed.view(np.uint8)
    cells[:, :, 8] = ord("\t")
    cells[:, -1, 8] = ord("\n")
    keep[:, :, :8] = (ranks >= 0)[:, :, None]
    keep[:, :, 8] = True


def _chunk_text(chunk: _Chunk, label: np.ndarray, keys: np.ndarray) -> bytes:
    """The Criteo text of a chunk, formatted in slices whose byte cells stay in cache."""
    return b"".join(
        _slice_text(chunk, label, keys, slice(start, start + _TEXT_ROWS))
        for start in range(0, label.shape[0], _TEXT_ROWS)
    )


def _slice_text(chunk: _Chunk, label: np.ndarray, keys: np.ndarray, rows: slice) -> bytes:
    """Fixed-width byte cells for ``rows``, compacted by a keep mask in one go."""
    label = label[rows]
    n = label.shape[0]
    cells = np.empty((n, _LINE), dtype=np.uint8)
    keep = np.empty((n, _LINE), dtype=bool)
    cells[:, 0] = ord("0") + label
    cells[:, 1] = ord("\t")
    keep[:, :2] = True
    split = 2 + len(NUMERIC_COLUMNS) * _NUM_CELL
    _numeric_cells(
        chunk.ints[rows],
        chunk.int_missing[rows],
        cells[:, 2:split].reshape(n, len(NUMERIC_COLUMNS), _NUM_CELL),
        keep[:, 2:split].reshape(n, len(NUMERIC_COLUMNS), _NUM_CELL),
    )
    _categorical_cells(
        chunk.ranks[rows],
        keys,
        cells[:, split:].reshape(n, _N_CAT, _CAT_CELL),
        keep[:, split:].reshape(n, _N_CAT, _CAT_CELL),
    )
    return cells[keep].tobytes()


def _iter_chunks(n_rows: int, seed: int, world: _World) -> Iterator[tuple[_Chunk, np.ndarray]]:
    for index, start in enumerate(range(0, n_rows, CHUNK_ROWS)):
        n = min(CHUNK_ROWS, n_rows - start)
        rng = np.random.default_rng([seed, 1, index])
        # Always a full chunk, cut afterwards: row i is the same in every file longer than i.
        chunk = _draw(rng, CHUNK_ROWS, world)
        probability = 1.0 / (1.0 + np.exp(-(chunk.logit + world.bias)))
        label = (rng.random(CHUNK_ROWS) < probability).astype(np.uint8)
        if n < CHUNK_ROWS:
            chunk = _Chunk(
                ranks=chunk.ranks[:n],
                ints=chunk.ints[:n],
                int_missing=chunk.int_missing[:n],
                logit=chunk.logit[:n],
                interaction=chunk.interaction[:n],
            )
        yield chunk, label[:n]


def _check_args(n_rows: int, seed: int) -> None:
    if n_rows < 1:
        raise HarnessError(f"n_rows must be at least 1, got {n_rows=}")
    if seed < 0:
        raise HarnessError(f"seed must be non-negative, got {seed=}")


def write_synthetic_criteo(
    path: Path, n_rows: int, *, seed: int = 0, compress: bool = False
) -> Path:
    """Write ``n_rows`` synthetic rows in raw Criteo text format.

    The same ``(n_rows, seed, compress)`` always gives the same bytes (the gzip header carries no
    name or time). The file is written next to ``path`` and renamed into place, so an interrupted
    run never leaves a truncated file under the final name.

    Args:
        path: where to write; parent folders are created.
        n_rows: number of rows.
        seed: seeds the world (vocabularies, effects) and the rows.
        compress: gzip the output (level 1; the reader detects gzip by its magic bytes).

    Returns:
        ``path``.
    """
    _check_args(n_rows, seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    world = _make_world(seed)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as raw:
        out: BinaryIO = raw
        if compress:
            out = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0)  # type: ignore[assignment]
        for chunk, label in _iter_chunks(n_rows, seed, world):
            out.write(_chunk_text(chunk, label, world.keys))
        if compress:
            out.close()
    os.replace(partial, path)
    return path


def synthetic_criteo_truth(n_rows: int, *, seed: int = 0) -> SyntheticTruth:
    """The true logit and the labels of the file `write_synthetic_criteo` writes for these args."""
    _check_args(n_rows, seed)
    world = _make_world(seed)
    logits: list[np.ndarray] = []
    interactions: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for chunk, label in _iter_chunks(n_rows, seed, world):
        logits.append(chunk.logit + world.bias)
        interactions.append(chunk.interaction)
        labels.append(label)
    return SyntheticTruth(
        logit=np.concatenate(logits),
        interaction=np.concatenate(interactions),
        label=np.concatenate(labels),
    )
