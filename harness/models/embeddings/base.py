"""What every categorical embedding reports about its size."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

__all__ = ["Footprint", "footprint_of"]


@dataclass(frozen=True)
class Footprint:
    """Parameters and bytes of a model's categorical embeddings (tables and projections)."""

    params: int
    bytes: int

    def __post_init__(self) -> None:
        if self.params < 0 or self.bytes < 0:
            raise ValueError(f"sizes must be non-negative, got {self.params=} {self.bytes=}")


def footprint_of(*modules: nn.Module | None) -> Footprint:
    """The summed parameter count and bytes of ``modules`` (None entries count nothing)."""
    params = [p for m in modules if m is not None for p in m.parameters()]
    return Footprint(
        params=sum(p.numel() for p in params),
        bytes=sum(p.numel() * p.element_size() for p in params),
    )
