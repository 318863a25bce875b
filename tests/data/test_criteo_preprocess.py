"""prepare_criteo: exact ids and statistics, train-only fitting, caching, atomicity, protocols."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import harness.data.preprocess as preprocess
import harness.data.shards as shards
import harness.data.vocab as vocab
from harness.data.cache import load_encoded
from harness.data.criteo import read_criteo
from harness.data.preprocess import PreprocessConfig, describe, prepare_criteo
from harness.data.schema import MISSING_ID, RARE_ID, SPLIT_NAMES, EncodedDataset
from harness.data.splits import get_protocol
from harness.data.synthetic import write_synthetic_criteo
from harness.errors import HarnessError

LineBuilder = Callable[..., str]  # the conftest fixtures' types
FileWriter = Callable[..., Path]
NAN = float("nan")

A, B, C, D = "0000000a", "000000ff", "abcdef12", "00001234"  # C1 values
X, Y, Z, W = "00000002", "00000001", "00000003", "00000004"  # C2 values

# Ten rows, sequential protocol: rows 1-8 train, 9 valid, 10 test.
C1 = [A, A, A, B, B, C, "", "", D, A]  # train counts a 3, b 2, c 1, missing 2; d unseen
C2 = [X, Y, X, Y, Z, Z, Z, W, X, ""]  # z 3, then x and y tie at 2 (ascending value: y first)
I1 = ["1", "", "3", "-4", "5", "", "7", "8", "100", ""]
LABELS = ["1", "0", "0", "1", "0", "0", "0", "1", "1", "0"]


@pytest.fixture
def ten_lines(criteo_line: LineBuilder) -> list[str]:
    return [
        criteo_line(LABELS[i], {1: I1[i]}, {1: C1[i], 2: C2[i], 3: f"{i:08x}"}) for i in range(10)
    ]


def _prepare(path: Path, cache: Path, **config: Any) -> EncodedDataset:
    return prepare_criteo(path, PreprocessConfig(**config), cache_root=cache, progress=False)


def test_exact_ids_counts_and_stats(
    ten_lines: list[str], write_criteo: FileWriter, tmp_path: Path
) -> None:
    data = _prepare(write_criteo(ten_lines), tmp_path / "cache", min_count=2)
    assert (data.train.n_rows, data.valid.n_rows, data.test.n_rows) == (8, 1, 1)
    assert data.protocol == "sequential" and data.skipped_rows == 0 and not data.synthetic

    # C1: a -> 2 (count 3), b -> 3 (count 2), c rare (count 1), missing 0, d unseen -> rare.
    np.testing.assert_array_equal(data.train.x_cat[:, 0], [2, 2, 2, 3, 3, RARE_ID, 0, 0])
    assert data.valid.x_cat[0, 0] == RARE_ID
    assert data.test.x_cat[0, 0] == 2
    # C2: z -> 2; the tie x/y (count 2) is broken by raw value: y (1) -> 3, x (2) -> 4.
    np.testing.assert_array_equal(data.train.x_cat[:, 1], [4, 3, 4, 3, 2, 2, 2, RARE_ID])
    assert data.valid.x_cat[0, 1] == 4 and data.test.x_cat[0, 1] == MISSING_ID
    # C3: every value distinct -> all rare; C4..C26 always missing.
    assert (data.train.x_cat[:, 2] == RARE_ID).all()
    assert (data.train.x_cat[:, 3:] == MISSING_ID).all()

    cards = data.schema.cardinalities
    assert cards[:3] == (4, 5, 2) and set(cards[3:]) == {2}
    np.testing.assert_array_equal(data.cat_counts[0], [2, 1, 3, 2])  # missing, rare, a, b
    np.testing.assert_array_equal(data.cat_counts[1], [0, 1, 3, 2, 2])  # missing, rare, z, y, x
    np.testing.assert_array_equal(data.cat_counts[2], [0, 8])
    assert all(len(c) == card for c, card in zip(data.cat_counts, cards, strict=True))

    # Numeric: raw values, NaN where missing; statistics from train rows only.
    np.testing.assert_array_equal(data.train.x_num[:, 0], [1, NAN, 3, -4, 5, NAN, 7, 8])
    assert data.valid.x_num[0, 0] == 100 and np.isnan(data.test.x_num[0, 0])
    assert (data.train.x_num[:, 1:] == 0).all()
    present = np.array([1, 3, -4, 5, 7, 8], dtype=np.float64)
    i1 = data.schema.numeric[0]
    assert i1.name == "I1"
    assert i1.mean == pytest.approx(present.mean())
    assert i1.std == pytest.approx(present.std())
    assert i1.missing_rate == pytest.approx(2 / 8)
    assert data.schema.numeric[1].std == 0 and data.schema.numeric[1].missing_rate == 0

    np.testing.assert_array_equal(data.train.y[:, 0], [1, 0, 0, 1, 0, 0, 0, 1])
    assert data.valid.y[0, 0] == 1 and data.test.y[0, 0] == 0
    for split in SPLIT_NAMES:
        arrays = data.split(split)
        assert arrays.x_num.dtype == np.float32 and arrays.x_num.shape[1] == 13
        assert arrays.x_cat.dtype == np.int32 and arrays.x_cat.shape[1] == 26
        assert arrays.y.dtype == np.float32 and arrays.y.shape[1] == 1
        assert isinstance(arrays.x_cat, np.memmap)


def test_min_count_one_keeps_every_training_value(
    ten_lines: list[str], write_criteo: FileWriter, tmp_path: Path
) -> None:
    data = _prepare(write_criteo(ten_lines), tmp_path / "cache", min_count=1)
    # a 3, b 2, c 1 -> ids 2, 3, 4; d (valid only) still rare.
    np.testing.assert_array_equal(data.train.x_cat[:, 0], [2, 2, 2, 3, 3, 4, 0, 0])
    assert data.valid.x_cat[0, 0] == RARE_ID
    np.testing.assert_array_equal(data.cat_counts[0], [2, 0, 3, 2, 1])
    assert data.schema.cardinalities[2] == 2 + 8  # C3: eight distinct training values


def test_meta_and_vocab_files(
    ten_lines: list[str], write_criteo: FileWriter, tmp_path: Path
) -> None:
    path = write_criteo(ten_lines)
    data = _prepare(path, tmp_path / "cache")
    assert data.cache_dir is not None
    folder = Path(data.cache_dir)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["rows"] == {"train": 8, "valid": 1, "test": 1}
    assert meta["protocol"] == "sequential" and meta["skipped_rows"] == 0
    assert meta["source"] == str(path.resolve())
    assert {"parse_s", "fit_s", "encode_s", "total_s"} <= set(meta["timings"])
    np.testing.assert_array_equal(np.load(folder / "vocab" / "C1.npy"), [0x0A, 0xFF])
    assert not (folder / "blocks").exists()  # intermediate blocks are removed
    assert load_encoded(folder).schema == data.schema
    assert "train 8, valid 1, test 1" in describe(data)


def test_second_call_is_a_cache_hit(
    ten_lines: list[str],
    write_criteo: FileWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_criteo(ten_lines)
    first = _prepare(path, tmp_path / "cache")

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the raw file was read again")

    monkeypatch.setattr(shards.TableReader, "blocks", no_reading)
    second = _prepare(path, tmp_path / "cache")
    assert second.cache_dir == first.cache_dir
    np.testing.assert_array_equal(second.train.x_cat, first.train.x_cat)
    # A different config, or a changed file, misses the cache.
    with pytest.raises(AssertionError, match="read again"):
        _prepare(path, tmp_path / "cache", min_count=1)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.raises(AssertionError, match="read again"):
        _prepare(path, tmp_path / "cache")


def test_block_size_does_not_change_the_cache_key(
    ten_lines: list[str], write_criteo: FileWriter, tmp_path: Path
) -> None:
    path = write_criteo(ten_lines)
    a = _prepare(path, tmp_path / "cache", block_bytes=1 << 20)
    b = _prepare(path, tmp_path / "cache", block_bytes=100)
    assert a.cache_dir == b.cache_dir


def test_interrupted_build_leaves_no_cache(
    ten_lines: list[str],
    write_criteo: FileWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_criteo(ten_lines)
    cache = tmp_path / "cache"

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(preprocess, "encode_shard", crash)
        with pytest.raises(KeyboardInterrupt):
            _prepare(path, cache)
    assert list(cache.iterdir()) == []  # neither a half cache nor a temporary folder
    assert _prepare(path, cache).train.n_rows == 8


def _arrays(data: EncodedDataset) -> list[bytes]:
    out = []
    for split in SPLIT_NAMES:
        arrays = data.split(split)
        out += [np.asarray(arrays.x_num).tobytes(), np.asarray(arrays.x_cat).tobytes()]
        out.append(np.asarray(arrays.y).tobytes())
    return out


def test_tiny_blocks_and_gzip_give_identical_arrays(tmp_path: Path) -> None:
    path = write_synthetic_criteo(tmp_path / "s.txt", 1500, seed=1)
    gz = write_synthetic_criteo(tmp_path / "s.txt.gz", 1500, seed=1, compress=True)
    big = _prepare(path, tmp_path / "c1", protocol="x1")
    small = _prepare(path, tmp_path / "c2", protocol="x1", block_bytes=20_000)
    from_gz = _prepare(gz, tmp_path / "c3", protocol="x1", block_bytes=50_000)
    assert _arrays(big) == _arrays(small) == _arrays(from_gz)
    assert big.schema == small.schema == from_gz.schema
    assert all(np.array_equal(a, b) for a, b in zip(big.cat_counts, small.cat_counts, strict=True))


def test_id_table_matches_a_dict() -> None:
    """The numpy hash table used for large vocabularies: hits, misses, value 0, collisions."""
    rng = np.random.default_rng(0)
    values = np.unique(rng.integers(0, 2**32, size=30_000, dtype=np.uint64)).astype(np.uint32)
    values = np.concatenate([[0, 2**32 - 1], rng.permutation(values)]).astype(np.uint32)
    table = vocab.IdTable(values)
    queries = np.concatenate(
        [values, rng.integers(0, 2**32, size=20_000, dtype=np.uint64).astype(np.uint32)]
    )
    expected = {int(v): i + 2 for i, v in enumerate(values)}
    ids = table.lookup(queries)
    assert ids.dtype == np.int32
    np.testing.assert_array_equal(ids, [expected.get(int(q), RARE_ID) for q in queries])
    assert (vocab.IdTable(np.zeros(0, np.uint32)).lookup(values[:5]) == RARE_ID).all()


def test_large_vocabulary_path_gives_the_same_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_synthetic_criteo(tmp_path / "s.txt", 2000, seed=3)
    default = _prepare(path, tmp_path / "c1", min_count=1)
    monkeypatch.setattr(vocab, "POLARS_VOCAB_MAX", 0)  # every column through IdTable
    tables = _prepare(path, tmp_path / "c2", min_count=1)
    assert _arrays(default) == _arrays(tables)


@pytest.mark.parametrize("protocol", ["x1", "x4", "sequential"])
def test_protocols_put_each_row_in_its_split(tmp_path: Path, protocol: str) -> None:
    n = 3000
    path = write_synthetic_criteo(tmp_path / "s.txt", n, seed=2)
    data = _prepare(path, tmp_path / "cache", protocol=protocol, seed=4, block_bytes=100_000)
    codes = get_protocol(protocol).assign(np.arange(n), n_rows=n, seed=4)
    frame = read_criteo(path).frame
    labels = frame["label"].to_numpy().astype(np.float32)
    i5 = frame["I5"].cast(float).fill_null(np.nan).to_numpy().astype(np.float32)
    for code, split in enumerate(SPLIT_NAMES):
        arrays = data.split(split)
        assert arrays.n_rows == int((codes == code).sum())
        np.testing.assert_array_equal(arrays.y[:, 0], labels[codes == code])  # file order kept
        np.testing.assert_array_equal(arrays.x_num[:, 4], i5[codes == code])


def test_bad_rows_error_and_skip(
    ten_lines: list[str], criteo_line: LineBuilder, write_criteo: FileWriter, tmp_path: Path
) -> None:
    bad = [*ten_lines[:3], criteo_line("0", {5: "abc"}), *ten_lines[3:7], "1\t2\n", *ten_lines[7:]]
    path = write_criteo(bad, name="dirty.txt")
    with pytest.raises(HarnessError, match=r"^dirty\.txt line 4: column I5 is 'abc'"):
        _prepare(path, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
    skipped = _prepare(path, tmp_path / "cache", bad_rows="skip")
    clean = _prepare(write_criteo(ten_lines, name="clean.txt"), tmp_path / "cache")
    assert skipped.skipped_rows == 2
    assert _arrays(skipped) == _arrays(clean)
    assert skipped.cache_dir is not None
    assert json.loads((Path(skipped.cache_dir) / "meta.json").read_text())["skipped_rows"] == 2


def test_too_few_rows_for_the_splits(
    ten_lines: list[str], write_criteo: FileWriter, tmp_path: Path
) -> None:
    with pytest.raises(HarnessError, match=r"4 rows split by sequential give train 3, valid 0"):
        _prepare(write_criteo(ten_lines[:4]), tmp_path / "cache")
    all_bad = write_criteo(["0\t1\n"] * 3, name="bad.txt")
    with pytest.raises(HarnessError, match="no rows left after skipping 3 bad rows"):
        _prepare(all_bad, tmp_path / "cache", bad_rows="skip")


def test_missing_input_and_cache(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="file not found"):
        _prepare(tmp_path / "none.txt", tmp_path / "cache")
    with pytest.raises(HarnessError, match="not a finished dataset cache"):
        load_encoded(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("protocol", "x9", "unknown split protocol 'x9'; valid: sequential, x1, x4"),
        ("min_count", 0, "min_count must be at least 1, got self.min_count=0"),
        ("seed", -1, "seed must be non-negative"),
        ("bad_rows", "ignore", "bad_rows must be 'error' or 'skip'"),
        ("block_bytes", 0, "block_bytes must be at least 1"),
    ],
)
def test_config_validation(field: str, value: object, message: str) -> None:
    with pytest.raises(HarnessError, match=message.replace("(", r"\(")):
        PreprocessConfig(**{field: value})  # type: ignore[arg-type]


def test_synthetic_flag_and_name(
    ten_lines: list[str], write_criteo: FileWriter, tmp_path: Path
) -> None:
    path = write_criteo(ten_lines)
    data = prepare_criteo(
        path, PreprocessConfig(), cache_root=tmp_path, progress=True, synthetic=True
    )
    assert data.title == "criteo (synthetic)"
    assert data.cache_dir is not None
    assert Path(data.cache_dir).name.startswith("criteo-sequential-")
    assert data.schema.labels == ("click",)


@pytest.mark.slow
def test_real_criteo_head(shared_file: Callable[[str], Path], tmp_path: Path) -> None:
    data = _prepare(shared_file("criteo/train_head10k.txt.gz"), tmp_path, min_count=2)
    assert (data.train.n_rows, data.valid.n_rows, data.test.n_rows) == (8000, 1000, 1000)
    assert data.schema.n_num == 13 and data.schema.n_cat == 26
    positives = sum(float(data.split(s).y.sum()) for s in SPLIT_NAMES)
    assert positives == 2182
    for feature, column in zip(data.schema.categorical, data.train.x_cat.T, strict=True):
        assert column.min() >= 0 and column.max() < feature.cardinality
