"""Categorical embeddings: ``(B, n_cat)`` ids to ``(B, n_cat, dim)`` vectors."""

from harness.models.embeddings.base import Footprint, footprint_of
from harness.models.embeddings.fused import FusedEmbedding

__all__ = ["Footprint", "FusedEmbedding", "footprint_of"]
