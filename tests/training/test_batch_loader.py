"""``make_loader``: every row once per epoch, seeded shuffles, block shuffle for memmaps."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

from harness.data.schema import EncodedSplit
from harness.models import Batch
from harness.training import make_loader


def _split(n: int) -> EncodedSplit:
    # Row i carries i in every column, so a batch says which rows it holds.
    ids = np.arange(n)
    return EncodedSplit(
        x_num=np.stack([ids, -ids], axis=1).astype(np.float32),
        x_cat=np.stack([ids, ids], axis=1).astype(np.int32),
        y=(ids % 2).astype(np.float32).reshape(-1, 1),
    )


def _rows(loader: object) -> list[int]:
    return [int(v) for b in loader for v in b.x_cat[:, 0]]  # type: ignore[attr-defined]


def _memmapped(tmp_path: Path, split: EncodedSplit) -> EncodedSplit:
    for name in ("x_num", "x_cat", "y"):
        np.save(tmp_path / f"{name}.npy", getattr(split, name))
    return EncodedSplit(
        *(np.load(tmp_path / f"{name}.npy", mmap_mode="r") for name in ("x_num", "x_cat", "y"))
    )


@pytest.mark.parametrize("mode", ["memory", "blocks"])
def test_every_row_once_per_epoch_and_rows_stay_aligned(mode: str) -> None:
    loader = make_loader(_split(103), 10, shuffle=True, seed=0, mode=mode, block_rows=25)  # type: ignore[arg-type]
    batches = list(loader)
    assert len(batches) == len(loader)
    rows = [int(v) for b in batches for v in b.x_cat[:, 0]]
    assert sorted(rows) == list(range(103))
    for b in batches:
        assert torch.equal(b.x_num[:, 0].long(), b.x_cat[:, 1].long())
        assert torch.equal(b.y[:, 0], (b.x_cat[:, 0] % 2).float())
        assert b.x_num.dtype == torch.float32 and b.y.shape[1] == 1


@pytest.mark.parametrize("mode", ["memory", "blocks"])
def test_shuffle_is_seeded_and_changes_between_epochs(mode: str) -> None:
    def epochs(seed: int) -> list[list[int]]:
        loader = make_loader(_split(200), 16, shuffle=True, seed=seed, mode=mode, block_rows=48)  # type: ignore[arg-type]
        return [_rows(loader) for _ in range(2)]

    first, again, other = epochs(1), epochs(1), epochs(2)
    assert first == again
    assert first[0] != first[1]
    assert first != other
    assert first[0] != list(range(200))


@pytest.mark.parametrize("mode", ["memory", "blocks"])
def test_no_shuffle_keeps_row_order(mode: str) -> None:
    loader = make_loader(_split(50), 8, shuffle=False, mode=mode, block_rows=16)  # type: ignore[arg-type]
    assert _rows(loader) == list(range(50))


def test_blocks_are_contiguous_runs_in_shuffled_order() -> None:
    # block_rows 24 with batch 8: each block is 3 whole batches drawn from one run of 24 rows.
    loader = make_loader(_split(96), 8, shuffle=True, seed=3, mode="blocks", block_rows=24)
    rows = _rows(loader)
    blocks = [rows[i : i + 24] for i in range(0, 96, 24)]
    starts = [min(b) for b in blocks]
    for block, start in zip(blocks, starts, strict=True):
        assert sorted(block) == list(range(start, start + 24))
        assert block != sorted(block)  # shuffled within the block
    assert sorted(starts) == [0, 24, 48, 72]
    assert starts != [0, 24, 48, 72]  # block order shuffled (seed 3)


def test_block_rows_round_up_to_whole_batches() -> None:
    loader = make_loader(_split(100), 8, shuffle=True, mode="blocks", block_rows=20)
    assert loader.block_rows == 24
    sizes = [len(b) for b in loader]
    assert sum(sizes) == 100
    assert sorted(sizes)[1:] == [8] * (len(sizes) - 1)  # only the file's last block is short
    assert len(sizes) == len(loader)


def test_auto_mode_reads_large_memmaps_in_blocks(tmp_path: Path) -> None:
    split = _memmapped(tmp_path, _split(100))
    assert make_loader(split, 10, shuffle=True, block_rows=30).mode == "blocks"
    assert make_loader(split, 10, shuffle=True, block_rows=1000).mode == "memory"
    assert make_loader(_split(100), 10, shuffle=True, block_rows=30).mode == "memory"


@pytest.mark.parametrize("mode", ["memory", "blocks"])
def test_memmapped_split_gives_the_same_batches_as_in_memory(tmp_path: Path, mode: str) -> None:
    split = _split(77)
    mm = _memmapped(tmp_path, split)
    kw = {"shuffle": True, "seed": 5, "mode": mode, "block_rows": 20}
    a = list(make_loader(split, 10, **kw))  # type: ignore[arg-type]
    b = list(make_loader(mm, 10, **kw))  # type: ignore[arg-type]
    assert len(a) == len(b)
    for ba, bb in zip(a, b, strict=True):
        assert torch.equal(ba.x_cat, bb.x_cat) and torch.equal(ba.x_num, bb.x_num)


def test_memory_mode_converts_arrays_to_tensors_once() -> None:
    split = _split(64)
    loader = make_loader(split, 16, shuffle=True, mode="memory")
    rows = loader._rows
    assert rows is not None
    # In-RAM float32/int32 arrays are shared with torch, not copied.
    assert rows.x_cat.data_ptr() == split.x_cat.ctypes.data
    list(loader)
    list(loader)
    assert loader._rows is rows


def test_int64_and_1d_labels_are_accepted() -> None:
    split = _split(20)
    split = EncodedSplit(
        split.x_num.astype(np.float64), split.x_cat.astype(np.uint16), split.y[:, 0]
    )
    (b,) = list(make_loader(split, 32, shuffle=False))
    assert b.x_num.dtype == torch.float32
    assert b.x_cat.dtype == torch.int64
    assert b.y.shape == (20, 1)


def test_pin_memory_is_requested_per_batch() -> None:
    loader = make_loader(_split(20), 8, shuffle=False, pin_memory=True)
    if torch.cuda.is_available():
        assert all(b.x_num.is_pinned() for b in loader)
        return
    # Without CUDA there is nothing to pin into: check that each batch is asked to pin.
    with mock.patch.object(Batch, "pin_memory", autospec=True, side_effect=lambda b: b) as pin:
        assert len(list(loader)) == 3
    assert pin.call_count == 3
    assert make_loader(_split(20), 8, shuffle=False).pin_memory is False


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size=0"),
        ({"block_rows": 0}, "block_rows=0"),
        ({"mode": "disk"}, "mode='disk'"),
    ],
)
def test_rejects_bad_args(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"batch_size": 8, "shuffle": True, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_loader(_split(10), **args)  # type: ignore[arg-type]
