"""Content (text-encoder) embeddings of items next to a ranker's tabular features.

This package holds the building blocks of issue #12: the compressors that map an encoder's
vectors to fewer dimensions (`COMPRESSORS`), each fitted on the training split only.
"""

from harness.content.compressors import (
    COMPRESSORS,
    AutoencoderConfig,
    Compressor,
    CompressorConfig,
    CompressorReport,
    MatryoshkaCompressor,
    MatryoshkaConfig,
    PCAConfig,
    RandomProjectionConfig,
    SVDConfig,
)

__all__ = [
    "COMPRESSORS",
    "AutoencoderConfig",
    "Compressor",
    "CompressorConfig",
    "CompressorReport",
    "MatryoshkaCompressor",
    "MatryoshkaConfig",
    "PCAConfig",
    "RandomProjectionConfig",
    "SVDConfig",
]
