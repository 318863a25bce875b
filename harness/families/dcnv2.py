"""DCN-v2 as a model family: the stacked cross network + MLP ranker, trained by ``fit``.

``DCNv2Config`` holds the flat fields a search space fills; ``build_dcnv2`` turns a config and
a dataset's schema into a ``DCNv2Ranker`` from registered parts; ``DCNV2.fit`` seeds, builds and
trains it with ``harness.training.fit``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
from torch import nn

from harness.data.schema import EncodedDataset, FeatureSchema
from harness.fitting import FitResult, TrainContext
from harness.models.backbones import ACTIVATIONS, BACKBONES
from harness.models.embeddings import FusedEmbedding
from harness.models.interactions import INTERACTIONS
from harness.models.numeric import NUMERIC_ENCODINGS
from harness.models.rankers import DCNv2Ranker
from harness.training.config import LoaderMode, TrainConfig
from harness.training.loop import fit

__all__ = ["DCNV2", "DCNv2Config", "DCNv2Family", "build_dcnv2"]


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


@dataclass(frozen=True)
class DCNv2Config:
    """A DCN-v2 trial: flat fields, filled by a search space (lists from TOML become tuples).

    Attributes:
        embedding_dim: size of every categorical embedding.
        cross_layers: cross layers before the MLP; 0 gives a plain embedding + MLP ranker.
        cross_rank: rank of each cross layer's ``W = U V^T``; ``None`` or 0 for full rank.
        mlp_dims: hidden widths of the MLP after the cross network.
        dropout: dropout after each MLP activation, in ``[0, 1)``.
        activation: the MLP activation, a key of ``harness.models.backbones.ACTIVATIONS``.
        numeric_encoding: a key of ``harness.models.numeric.NUMERIC_ENCODINGS``.
        missing_indicator: add a 0/1 "missing" channel per numeric feature (widens the input
            by ``n_num``).
        learning_rate: AdamW learning rate of the dense parameters.
        embedding_learning_rate: SparseAdam learning rate of the embedding table.
        weight_decay: AdamW decoupled weight decay of the dense parameters.
        batch_size: training rows per step.
        max_epochs: passes over the training split at most (CTR models often peak at epoch 1).
        patience: epochs without a better validation AUC before stopping.
        loader: ``"auto"``, ``"memory"`` or ``"blocks"`` (see ``harness.training.make_loader``).
        block_rows: rows per shuffled block when reading a memory-mapped split in blocks.
    """

    embedding_dim: int = 16
    cross_layers: int = 3
    cross_rank: int | None = None
    mlp_dims: tuple[int, ...] = (512, 256)
    dropout: float = 0.0
    activation: str = "relu"
    numeric_encoding: str = "log1p"
    missing_indicator: bool = True
    learning_rate: float = 1e-3
    embedding_learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 4096
    max_epochs: int = 3
    patience: int = 1
    loader: LoaderMode = "auto"
    block_rows: int = 1 << 20

    def __post_init__(self) -> None:
        # TOML and search spaces give lists and 0-for-none; normalise before validating.
        dims: Sequence[int] = self.mlp_dims
        _check(
            isinstance(dims, list | tuple) and all(_is_int(d) for d in dims),
            f"mlp_dims must be a list of integers, got {self.mlp_dims=}",
        )
        object.__setattr__(self, "mlp_dims", tuple(int(d) for d in dims))
        if self.cross_rank == 0:
            object.__setattr__(self, "cross_rank", None)
        for name in ("embedding_dim", "batch_size", "max_epochs", "patience", "block_rows"):
            value = getattr(self, name)
            _check(_is_int(value) and value >= 1, f"{name} must be an integer >= 1, got {value=}")
        _check(
            _is_int(self.cross_layers) and self.cross_layers >= 0,
            f"cross_layers must be an integer >= 0, got {self.cross_layers=}",
        )
        _check(
            self.cross_rank is None or (_is_int(self.cross_rank) and self.cross_rank >= 1),
            f"cross_rank must be None or 0 (full rank) or an integer >= 1, got {self.cross_rank=}",
        )
        _check(
            all(d >= 1 for d in self.mlp_dims),
            f"every mlp_dims width must be >= 1, got {self.mlp_dims=}",
        )
        _check(0.0 <= self.dropout < 1.0, f"dropout must lie in [0, 1), got {self.dropout=}")
        _check(
            self.activation in ACTIVATIONS,
            f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation=}",
        )
        _check(
            self.numeric_encoding in NUMERIC_ENCODINGS,
            f"numeric_encoding must be one of {', '.join(NUMERIC_ENCODINGS)}, "
            f"got {self.numeric_encoding=}",
        )
        _check(
            isinstance(self.missing_indicator, bool),
            f"missing_indicator must be true or false, got {self.missing_indicator=}",
        )
        for name in ("learning_rate", "embedding_learning_rate"):
            value = getattr(self, name)
            _check(0.0 < value < 1.0, f"{name} must lie in (0, 1), got {value=}")
        _check(self.weight_decay >= 0.0, f"weight_decay must be >= 0, got {self.weight_decay=}")
        _check(
            self.loader in ("auto", "memory", "blocks"),
            f"loader must be 'auto', 'memory' or 'blocks', got {self.loader=}",
        )

    def train_config(self) -> TrainConfig:
        """The training loop's settings from this config."""
        return TrainConfig(
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.patience,
            learning_rate=self.learning_rate,
            embedding_learning_rate=self.embedding_learning_rate,
            weight_decay=self.weight_decay,
            loader=self.loader,
            block_rows=self.block_rows,
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def build_dcnv2(config: DCNv2Config, schema: FeatureSchema, x_num_train: np.ndarray) -> DCNv2Ranker:
    """A ``DCNv2Ranker`` for ``schema`` from registered parts (not yet seeded: seed first).

    Args:
        config: the trial's architecture fields.
        schema: feature names, cardinalities and labels of the dataset.
        x_num_train: the training split's ``x_num``, for numeric encodings fitted on train.
    """
    numeric = NUMERIC_ENCODINGS[config.numeric_encoding].from_train(
        x_num_train, missing_indicator=config.missing_indicator
    )
    embedding = FusedEmbedding(schema.cardinalities, config.embedding_dim) if schema.n_cat else None
    d_input = numeric.n_features * numeric.d_out
    d_input += schema.n_cat * config.embedding_dim
    interaction = INTERACTIONS["cross"](d_input, config.cross_layers, rank=config.cross_rank)
    backbone = BACKBONES["mlp"](
        interaction.d_out, config.mlp_dims, dropout=config.dropout, activation=config.activation
    )
    head = nn.Linear(backbone.d_out, len(schema.labels))
    return DCNv2Ranker(numeric, embedding, interaction, backbone, head)


class DCNv2Family:
    """The ``Family`` for DCN-v2: ``fit`` seeds, builds the ranker and trains it."""

    name: str = "dcnv2"
    kind: Literal["gbdt", "neural"] = "neural"
    config_type: type[DCNv2Config] = DCNv2Config

    def fit(self, config: DCNv2Config, data: EncodedDataset, ctx: TrainContext) -> FitResult:
        """Trains on ``data.train``, early-stops on ``data.valid``, scores ``data.test``."""
        start = time.perf_counter()
        torch.set_num_threads(ctx.threads)
        torch.manual_seed(ctx.seed)
        model = build_dcnv2(config, data.schema, data.train.x_num)
        result = fit(model, data, config.train_config(), ctx)
        return replace(
            result,
            train_seconds=time.perf_counter() - start,
            notes=f"input_dim={model.d_input}",
        )


DCNV2 = DCNv2Family()
