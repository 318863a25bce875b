"""Neural ranker parts: batches, embeddings, numeric encodings, interactions, backbones, rankers.

Each part is a small ``nn.Module`` with one job; the registries (``NUMERIC_ENCODINGS``,
``INTERACTIONS``, ``BACKBONES``) are where a name from a config becomes a class.
"""

from harness.models.backbones import BACKBONES, MLP, Backbone
from harness.models.batch import Batch
from harness.models.embeddings import FusedEmbedding
from harness.models.interactions import INTERACTIONS, CrossNetV2, Interaction
from harness.models.numeric import NUMERIC_ENCODINGS, Log1p, NumericEncoding
from harness.models.rankers import DCNv2Ranker

__all__ = [
    "BACKBONES",
    "INTERACTIONS",
    "MLP",
    "NUMERIC_ENCODINGS",
    "Backbone",
    "Batch",
    "CrossNetV2",
    "DCNv2Ranker",
    "FusedEmbedding",
    "Interaction",
    "Log1p",
    "NumericEncoding",
]
