"""``Batch``: the torch view of a slice of an encoded split."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Batch"]


@dataclass(frozen=True)
class Batch:
    """One mini-batch of rows, as torch tensors.

    Attributes:
        x_num: float32 ``(B, n_num)``, NaN where a value is missing.
        x_cat: integer ``(B, n_cat)``, per-feature ids in ``[0, cardinality)``.
        y: float32 ``(B, n_labels)``, 0/1.
        x_vec: float32 ``(B, sum of the vector features' widths)``, the dense vector features
            side by side; None when the split has none.
    """

    x_num: Tensor
    x_cat: Tensor
    y: Tensor
    x_vec: Tensor | None = None

    def __post_init__(self) -> None:
        n = self.y.shape[0]
        if self.x_num.shape[0] != n or self.x_cat.shape[0] != n:
            raise ValueError(
                "rows differ: "
                f"{tuple(self.x_num.shape)=} {tuple(self.x_cat.shape)=} {tuple(self.y.shape)=}"
            )
        if self.x_vec is not None and (self.x_vec.ndim != 2 or self.x_vec.shape[0] != n):
            raise ValueError(
                f"rows differ: {tuple(self.x_vec.shape)=} (expected (B, width)), "
                f"{tuple(self.y.shape)=}"
            )

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: torch.device | str, *, non_blocking: bool = False) -> Batch:
        """Returns the batch on ``device`` (the same object when it is already there).

        ``non_blocking=True`` overlaps a host-to-GPU copy with compute; it only helps when the
        source tensors are in pinned memory (see ``pin_memory``).
        """
        device = torch.device(device)
        tensors = (self.x_num, self.x_cat, self.y)
        if all(t.device == device for t in tensors) and (
            self.x_vec is None or self.x_vec.device == device
        ):
            return self
        return Batch(
            x_num=self.x_num.to(device, non_blocking=non_blocking),
            x_cat=self.x_cat.to(device, non_blocking=non_blocking),
            y=self.y.to(device, non_blocking=non_blocking),
            x_vec=None if self.x_vec is None else self.x_vec.to(device, non_blocking=non_blocking),
        )

    def pin_memory(self) -> Batch:
        """Returns a copy in page-locked host memory, for asynchronous copies to a GPU."""
        return Batch(
            x_num=self.x_num.pin_memory(),
            x_cat=self.x_cat.pin_memory(),
            y=self.y.pin_memory(),
            x_vec=None if self.x_vec is None else self.x_vec.pin_memory(),
        )
