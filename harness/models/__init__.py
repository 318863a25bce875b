"""Neural ranker parts and the one ``Ranker`` that composes them.

Each part is a small ``nn.Module`` with one job and a frozen config registered under its name:
``NUMERIC_ENCODINGS``, ``EMBEDDINGS``, ``INTERACTIONS``, ``BACKBONES`` and ``HEADS`` are where a
name from a search-space file becomes a config class; the config builds the module from schema
sizes.
"""

from harness.models.backbones import BACKBONES, MLP, Backbone, BackboneConfig, MLPConfig
from harness.models.batch import Batch
from harness.models.embeddings import (
    EMBEDDINGS,
    CategoricalEmbedding,
    EmbeddingConfig,
    Footprint,
    FusedEmbedding,
)
from harness.models.heads import HEADS, Head, HeadConfig
from harness.models.interactions import INTERACTIONS, CrossNetV2, Interaction, InteractionConfig
from harness.models.numeric import NUMERIC_ENCODINGS, Log1p, NumericEncoding, NumericEncodingConfig
from harness.models.ranker import Ranker, RankerConfig
from harness.models.spec import Embedded, TensorSpec
from harness.models.tokenizer import Tokenizer, TokenizerConfig
from harness.models.wide import Wide

__all__ = [
    "BACKBONES",
    "EMBEDDINGS",
    "HEADS",
    "INTERACTIONS",
    "MLP",
    "NUMERIC_ENCODINGS",
    "Backbone",
    "BackboneConfig",
    "Batch",
    "CategoricalEmbedding",
    "CrossNetV2",
    "Embedded",
    "EmbeddingConfig",
    "Footprint",
    "FusedEmbedding",
    "Head",
    "HeadConfig",
    "Interaction",
    "InteractionConfig",
    "Log1p",
    "MLPConfig",
    "NumericEncoding",
    "NumericEncodingConfig",
    "Ranker",
    "RankerConfig",
    "TensorSpec",
    "Tokenizer",
    "TokenizerConfig",
    "Wide",
]
