"""The neural family: every neural preset (DCN-v2, DeepFM, DLRM, ...) is a `NeuralConfig`.

A preset is a search-space file (``search_spaces/dcnv2.toml``) that fills ``NeuralConfig``:
``model`` (a `RankerConfig`: tokenizer, interaction, backbone, head, topology) and ``train`` (a
`TrainConfig`). ``NEURAL.fit`` seeds, builds the ranker from registered parts and trains it with
``harness.training.fit``; ``NEURAL.validate`` builds it on the ``meta`` device (no memory, no
data) and runs one forward pass, so an impossible configuration fails before any trial. A config
that distils through an auxiliary head (``[train.distill] auxiliary_head = true``) gets a ranker
with one output more, which scoring never sees (`AuxiliaryOutput`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch

from harness.content.config import ContentConfig
from harness.content.prepare import apply_content
from harness.data.schema import EncodedDataset
from harness.fitting import EpochMetrics, FitResult, TrainContext
from harness.models.inputs import FeatureInputs
from harness.models.matryoshka import check_prefixes
from harness.models.ranker import Ranker, RankerConfig
from harness.training.config import TrainConfig
from harness.training.distill import AuxiliaryOutput
from harness.training.loop import fit

__all__ = ["NEURAL", "NeuralConfig", "NeuralFamily", "build_ranker"]


@dataclass(frozen=True)
class NeuralConfig:
    """One neural trial: the ranker's architecture and how to train it.

    Attributes:
        model: the ranker (`RankerConfig`; defaults: DCN-v2).
        train: optimiser, batching, early stopping, task weights (`TrainConfig`).
        content: what the ranker sees of the dataset's vector features (`ContentConfig`:
            dropped, as they are, or compressed).
    """

    model: RankerConfig = field(default_factory=RankerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    content: ContentConfig = field(default_factory=ContentConfig)


def build_ranker(config: NeuralConfig, data: EncodedDataset) -> Ranker | AuxiliaryOutput:
    """The ranker of ``config`` for ``data``'s schema (seed torch first for fixed weights).

    With distillation through an auxiliary head (``config.train.distill``) the ranker is built
    with one output more than the tasks and wrapped in `AuxiliaryOutput`, whose eval mode
    returns the tasks' outputs only.

    Args:
        config: the trial's config.
        data: the dataset; parts read its training statistics (`FeatureInputs.of`).

    Raises:
        ValueError: the configuration cannot be built for this schema (the message names the
            part), or its Matryoshka sizes cannot cut its embeddings (`check_prefixes`).
    """
    schema = data.schema
    weights = config.train.task_weights
    if weights and len(weights) != len(schema.labels):
        raise ValueError(
            f"train.task_weights has {len(weights)} weights but the data has "
            f"{len(schema.labels)} tasks ({', '.join(schema.labels)})"
        )
    tasks = len(schema.labels)
    extra = config.train.distill.extra_outputs
    ranker = config.model.build(FeatureInputs.of(data), tasks + extra)
    matryoshka = config.train.matryoshka
    if matryoshka.enabled:
        matryoshka.check_dim(config.model.tokenizer.embedding_dim)
        try:
            check_prefixes(ranker, matryoshka.sizes)
        except ValueError as e:
            raise ValueError(
                f"train.matryoshka.sizes={list(matryoshka.sizes)} with "
                f"model.tokenizer.embedding.kind={config.model.tokenizer.embedding.kind!r}: {e}"
            ) from None
    return AuxiliaryOutput(ranker, tasks) if extra else ranker


class NeuralFamily:
    """The ``Family`` of every neural preset (see the module docstring)."""

    name: str = "neural"
    kind: Literal["gbdt", "neural"] = "neural"
    config_type: type[Any] = NeuralConfig

    def fit(self, config: NeuralConfig, data: EncodedDataset, ctx: TrainContext) -> FitResult:
        """Trains on ``data.train``, early-stops on ``data.valid``, scores ``data.test``.

        Every epoch and the result carry the embeddings' footprint (parameters and bytes), so a
        trial stopped early still reports it.
        """
        start = time.perf_counter()
        torch.set_num_threads(ctx.threads)
        data, content = apply_content(config.content, data, seed=ctx.seed)
        torch.manual_seed(ctx.seed)
        model = build_ranker(config, data)
        size = model.embedding_footprint()

        def on_epoch(m: EpochMetrics) -> None:
            ctx.on_epoch(replace(m, embedding_params=size.params, embedding_bytes=size.bytes))

        result = fit(model, data, config.train, replace(ctx, on_epoch=on_epoch))
        return replace(
            result,
            train_seconds=time.perf_counter() - start,
            notes="; ".join(n for n in (f"input_dim={model.d_input}", result.notes) if n),
            embedding_params=size.params,
            embedding_bytes=size.bytes,
            content="" if content is None else content.to_json(),
        )

    def validate(self, config: NeuralConfig, data: EncodedDataset) -> None:
        """Builds the ranker on the ``meta`` device and runs a forward pass of two rows (with
        ``x_vec`` of the schema's vector width when it has vector features).

        The forward pass runs in training mode: with an auxiliary head (distillation) it gives
        the tasks' logits and the teacher's.

        Raises:
            ValueError: the configuration is impossible for this dataset (a rank above the
                input width, token interactions without tokens, mismatched task weights, ...).
        """
        data = replace(data, schema=config.content.schema_of(data.schema))
        outputs = len(data.schema.labels) + config.train.distill.extra_outputs
        with torch.device("meta"):
            model = build_ranker(config, data)
            x_num = torch.zeros(2, data.schema.n_num)
            x_cat = torch.zeros(2, data.schema.n_cat, dtype=torch.long)
            x_vec = torch.zeros(2, data.schema.vector_width) if data.schema.vectors else None
            try:
                logits = model(x_num, x_cat, x_vec)
            except (RuntimeError, ValueError) as e:
                raise ValueError(f"the ranker's forward pass fails: {e}") from None
        if tuple(logits.shape) != (2, outputs):
            raise ValueError(
                f"logits of shape {tuple(logits.shape)}, expected (B, {outputs}) (the tasks, and "
                "the teacher's with an auxiliary head)"
            )


NEURAL = NeuralFamily()
