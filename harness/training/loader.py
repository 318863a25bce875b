"""Mini-batches from an ``EncodedSplit``: in-memory full shuffle or block shuffle for memmaps.

Both modes gather rows by index from torch tensors made with ``torch.from_numpy`` (no per-row
Python); a split's dense vector features (``x_vec``, float32) travel with their rows. In
``"memory"`` mode the arrays become tensors once, when the loader is built, and every epoch
permutes all rows. In ``"blocks"`` mode a memory-mapped split (36M Criteo rows do not fit
in RAM) is read one contiguous block at a time, blocks in a shuffled order and rows shuffled
within a block, while a background thread reads the next block: reads stay sequential on disk and
only two blocks are ever in RAM.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from harness.data.schema import EncodedSplit
from harness.models.batch import Batch

__all__ = ["LOADER_MODES", "BatchLoader", "LoaderMode", "make_loader"]

# How a training split is read: ``memory`` shuffles all rows in RAM, ``blocks`` reads
# contiguous blocks in shuffled order, ``auto`` picks ``blocks`` for a memory-mapped split.
LoaderMode = Literal["auto", "memory", "blocks"]
LOADER_MODES: tuple[LoaderMode, ...] = ("auto", "memory", "blocks")


@dataclass(frozen=True)
class _Rows:
    """A run of consecutive rows of a split, as CPU tensors."""

    x_num: Tensor
    x_cat: Tensor
    y: Tensor
    x_vec: Tensor | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def take(self, index: Tensor | None, start: int, stop: int) -> Batch:
        """Rows ``start:stop`` of this run, or of ``index`` into it when given."""
        x_vec = self.x_vec
        if index is None:
            return Batch(
                self.x_num[start:stop],
                self.x_cat[start:stop],
                self.y[start:stop],
                None if x_vec is None else x_vec[start:stop],
            )
        idx = index[start:stop]
        return Batch(
            self.x_num.index_select(0, idx),
            self.x_cat.index_select(0, idx),
            self.y.index_select(0, idx),
            None if x_vec is None else x_vec.index_select(0, idx),
        )


def _as_tensor(array: np.ndarray, dtype: np.dtype | None = None) -> Tensor:
    """A CPU tensor over ``array``, copied into RAM when it is memory-mapped or read-only.

    A memory-mapped array opened read-only cannot back a tensor safely (torch assumes writable
    memory), and ``"memory"`` mode promises RAM anyway.
    """
    out = np.asarray(array, dtype=dtype)
    if isinstance(array, np.memmap) or not out.flags.writeable or not out.flags.c_contiguous:
        out = np.array(out, dtype=dtype, order="C", copy=True)
    return torch.from_numpy(out)


def _id_dtype(dtype: np.dtype) -> np.dtype:
    """int32 ids stay int32 (half the memory); any other integer type becomes int64."""
    return dtype if dtype in (np.dtype(np.int32), np.dtype(np.int64)) else np.dtype(np.int64)


def _read_rows(split: EncodedSplit, start: int, stop: int) -> _Rows:
    """Rows ``start:stop`` of ``split`` copied into RAM (one sequential read per array)."""
    y = split.y[start:stop]
    f32 = np.dtype(np.float32)
    return _Rows(
        x_num=_as_tensor(split.x_num[start:stop], f32),
        x_cat=_as_tensor(split.x_cat[start:stop], _id_dtype(split.x_cat.dtype)),
        y=_as_tensor(y.reshape(len(y), -1), f32),
        x_vec=None if split.x_vec is None else _as_tensor(split.x_vec[start:stop], f32),
    )


def _is_memory_mapped(split: EncodedSplit) -> bool:
    arrays = (split.x_num, split.x_cat, split.y) + (() if split.x_vec is None else (split.x_vec,))
    return any(isinstance(a, np.memmap) or isinstance(a.base, np.memmap) for a in arrays)


class BatchLoader:
    """Iterating over it yields one epoch of ``Batch``es; each iteration reshuffles.

    Build it with ``make_loader``. Shuffling draws from a ``torch.Generator`` seeded once, so
    epoch ``k`` of two loaders with the same seed is the same sequence of batches.
    """

    def __init__(
        self,
        split: EncodedSplit,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int,
        blocks: bool,
        block_rows: int,
        pin_memory: bool,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size=}")
        if block_rows < 1:
            raise ValueError(f"block_rows must be positive, got {block_rows=}")
        if split.n_rows == 0:
            raise ValueError("cannot load batches from an empty split")
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.blocks = blocks
        # Whole batches per block, so that only the split's last block can end in a short batch.
        self.block_rows = -(-block_rows // batch_size) * batch_size
        self.pin_memory = pin_memory
        self.generator = torch.Generator().manual_seed(seed)
        # "memory" mode: tensors made once and reused by every epoch.
        self._rows = None if blocks else _read_rows(split, 0, split.n_rows)

    @property
    def mode(self) -> LoaderMode:
        return "blocks" if self.blocks else "memory"

    def __len__(self) -> int:
        """Batches per epoch."""
        n = self.split.n_rows
        if not self.blocks:
            return -(-n // self.batch_size)
        full, tail = divmod(n, self.block_rows)
        return full * (self.block_rows // self.batch_size) + -(-tail // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        batches = self._iter_blocks() if self.blocks else self._iter_rows(self._rows)
        for batch in batches:
            yield batch.pin_memory() if self.pin_memory else batch

    def _iter_rows(self, rows: _Rows | None) -> Iterator[Batch]:
        assert rows is not None
        n = len(rows)
        index = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            yield rows.take(index, start, min(start + self.batch_size, n))

    def _iter_blocks(self) -> Iterator[Batch]:
        n = self.split.n_rows
        starts = torch.arange(0, n, self.block_rows)
        if self.shuffle:
            starts = starts[torch.randperm(len(starts), generator=self.generator)]
        order = [int(s) for s in starts]

        def read(start: int) -> _Rows:
            return _read_rows(self.split, start, min(start + self.block_rows, n))

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="block-reader") as pool:
            pending: Future[_Rows] = pool.submit(read, order[0])
            for k in range(len(order)):
                rows = pending.result()
                if k + 1 < len(order):
                    # Read the next block from disk while this one trains.
                    pending = pool.submit(read, order[k + 1])
                yield from self._iter_rows(rows)


def make_loader(
    split: EncodedSplit,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    mode: LoaderMode = "auto",
    block_rows: int = 1 << 20,
    pin_memory: bool = False,
) -> BatchLoader:
    """Builds a loader over ``split`` in the mode that fits where its arrays live.

    Args:
        split: the encoded arrays, in RAM or memory-mapped.
        batch_size: rows per batch (the last batch of an epoch may be shorter).
        shuffle: reshuffle every epoch (training) or keep row order (scoring).
        seed: seeds the loader's own generator, so shuffling is reproducible.
        mode: ``"memory"`` copies a memory-mapped split into RAM once and shuffles all rows;
            ``"blocks"`` reads ``block_rows`` contiguous rows at a time, in shuffled block order,
            and shuffles within a block; ``"auto"`` picks ``"blocks"`` for a memory-mapped
            split whose rows exceed one block, else ``"memory"``.
        block_rows: rows per block in ``"blocks"`` mode, rounded up to whole batches.
        pin_memory: return batches in page-locked memory (for ``Batch.to(cuda,
            non_blocking=True)``).
    """
    if mode == "auto":
        blocks = _is_memory_mapped(split) and split.n_rows > block_rows
    elif mode in ("memory", "blocks"):
        blocks = mode == "blocks"
    else:
        raise ValueError(f"unknown loader {mode=}; valid: auto, memory, blocks")
    return BatchLoader(
        split,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        blocks=blocks,
        block_rows=block_rows,
        pin_memory=pin_memory,
    )
