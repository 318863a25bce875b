"""Interaction layers: ``(B, d_in) -> (B, d_out)`` over the flat feature vector.

A new layer is one module plus one line in ``INTERACTIONS``; the contract tests cover it.
"""

from harness.models.interactions.base import Interaction
from harness.models.interactions.cross import CrossNetV2

__all__ = ["INTERACTIONS", "CrossNetV2", "Interaction"]

INTERACTIONS: dict[str, type[Interaction]] = {
    "cross": CrossNetV2,
}
