"""Compressors of content embeddings: fitted on the training vectors, they map any vectors of the
same width to ``size`` dimensions (`COMPRESSORS`, ``kind = "pca"`` and so on).

A new compressor is one module (its config and fitted object) plus one ``register`` line below;
the contract tests in ``tests/content/test_compressors.py`` run on every registered entry.
"""

from harness.content.compressors.autoencoder import AutoencoderConfig
from harness.content.compressors.base import Compressor, CompressorConfig, CompressorReport
from harness.content.compressors.identity import FullSizeConfig
from harness.content.compressors.linear import PCAConfig, RandomProjectionConfig, SVDConfig
from harness.content.compressors.matryoshka import MatryoshkaCompressor, MatryoshkaConfig
from harness.registry import Registry

__all__ = [
    "COMPRESSORS",
    "AutoencoderConfig",
    "Compressor",
    "CompressorConfig",
    "CompressorReport",
    "FullSizeConfig",
    "MatryoshkaCompressor",
    "MatryoshkaConfig",
    "PCAConfig",
    "RandomProjectionConfig",
    "SVDConfig",
]

COMPRESSORS: Registry[CompressorConfig] = Registry("compressor", CompressorConfig)
COMPRESSORS.register("none", FullSizeConfig, "no compression: the vectors at their full width")
COMPRESSORS.register("pca", PCAConfig, "principal components of the centred training vectors")
COMPRESSORS.register("svd", SVDConfig, "truncated SVD of the (uncentred) training vectors")
COMPRESSORS.register("random", RandomProjectionConfig, "seeded Gaussian random projection")
COMPRESSORS.register("autoencoder", AutoencoderConfig, "encoder of an MSE autoencoder (torch)")
COMPRESSORS.register(
    "matryoshka", MatryoshkaConfig, "linear projection whose nested prefixes each reconstruct"
)
