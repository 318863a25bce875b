"""Categorical embeddings: ``(B, n_cat)`` ids to ``(B, n_cat, d)`` tokens or one flat vector.

A kind is one module (an `EmbeddingConfig` subclass and its module) plus one
``EMBEDDINGS.register`` line; the contract tests in ``tests/models/test_embeddings.py`` then
cover it. Every kind shares frequency clipping (``min_count``) and per-feature sizes (``size``,
``size_scale``, ``max_dim``), and reports its parameters and bytes (`Footprint`).
"""

from harness.models.embeddings.base import (
    CategoricalEmbedding,
    EmbeddingConfig,
    EmbeddingOutput,
    Footprint,
    footprint_of,
)
from harness.models.embeddings.fused import FusedConfig, FusedEmbedding
from harness.models.embeddings.grouped import GroupedEmbedding
from harness.models.embeddings.hashing import FeatureHash, HashingConfig
from harness.models.embeddings.multihash import MultiHashConfig, MultiHashEmbedding
from harness.models.embeddings.tables import PerFeatureEmbedding, TablesConfig
from harness.registry import Registry

__all__ = [
    "EMBEDDINGS",
    "CategoricalEmbedding",
    "EmbeddingConfig",
    "EmbeddingOutput",
    "FeatureHash",
    "Footprint",
    "FusedConfig",
    "FusedEmbedding",
    "GroupedEmbedding",
    "HashingConfig",
    "MultiHashConfig",
    "MultiHashEmbedding",
    "PerFeatureEmbedding",
    "TablesConfig",
    "footprint_of",
]

EMBEDDINGS: Registry[EmbeddingConfig] = Registry("embedding", EmbeddingConfig)
EMBEDDINGS.register("fused", FusedConfig, "one sparse table for every feature (fast default)")
EMBEDDINGS.register("tables", TablesConfig, "one sparse table per feature")
EMBEDDINGS.register(
    "hashing", HashingConfig, "hashing trick: ids hashed into a smaller table per feature"
)
EMBEDDINGS.register(
    "multihash", MultiHashConfig, "unified multi-hash: k hashed rows of one shared table per id"
)
