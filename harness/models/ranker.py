"""``Ranker``: one neural ranker composed of built parts, and ``RankerConfig`` that builds it.

Parts (torchrec's ``dlrm.py`` style: the ranker receives built modules and returns logits; the
loss lives in the training loop)::

    x_num, x_cat[, x_vec] ─▶ tokenizer ─▶ field tokens (B, F, d) [+ dense values]
      stacked:   ─▶ interaction ─▶ flat ─▶ backbone ─▶ head ─▶ logits (B, tasks)
      parallel:  ─▶ interaction ─▶ flat ─┐
                 ─▶ flatten ─▶ backbone ─┴▶ concat ─▶ head ─▶ logits
      wide (optional): first-order terms added to every task's logit (ids and numeric values;
                       vector features have no first-order term)

DCN-v2 is ``cross`` + ``mlp`` stacked; DeepFM is ``fm`` ‖ ``mlp`` parallel with ``wide``; DLRM
is the bottom-MLP tokenizer + ``dot`` + ``mlp``; AutoInt+ is ``autoint`` ‖ ``mlp``. Those are
search-space files (``search_spaces/*.toml``), not classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import torch
from torch import Tensor, nn

from harness.models.backbones import Backbone, BackboneConfig, MLPConfig
from harness.models.embeddings import Footprint
from harness.models.heads import Head, HeadConfig, LinearHeadConfig
from harness.models.inputs import FeatureInputs
from harness.models.interactions import CrossConfig, Interaction, InteractionConfig
from harness.models.spec import Embedded, TensorSpec
from harness.models.tokenizer import Tokenizer, TokenizerConfig
from harness.models.wide import Wide

__all__ = ["Ranker", "RankerConfig", "Topology"]

Topology = Literal["stacked", "parallel"]
T = TypeVar("T")


class Ranker(nn.Module):
    """Tokenizer, interaction, backbone and head composed by a topology (module docstring).

    **Shape**: ``x_num (B, n_num)``, ``x_cat (B, n_cat)``, ``x_vec (B, W)`` (the vector
    features side by side; None when the schema has none) -> logits ``(B, tasks)``.

    Raises (forward): ValueError when the ranker was built with vector features and gets no
    ``x_vec`` (or one of another width), naming the features.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        interaction: Interaction,
        backbone: Backbone,
        head: Head,
        *,
        topology: Topology = "stacked",
        wide: Wide | None = None,
    ) -> None:
        super().__init__()
        if topology not in ("stacked", "parallel"):
            raise ValueError(f"topology must be 'stacked' or 'parallel', got {topology=}")
        expected = _interaction_input(tokenizer, interaction.input.kind)
        if interaction.input != expected:
            raise ValueError(
                f"the interaction expects {interaction.input}, the tokenizer gives {expected}"
            )
        self.interaction_width = _flat_width(tokenizer, interaction)
        backbone_in = self.interaction_width if topology == "stacked" else tokenizer.flat_width
        if backbone.d_in != backbone_in:
            raise ValueError(f"{backbone.d_in=} must be {backbone_in} ({topology} topology)")
        head_in = backbone.d_out + (self.interaction_width if topology == "parallel" else 0)
        if head.d_in != head_in:
            raise ValueError(f"{head.d_in=} must be {head_in}")
        if wide is not None and wide.tasks != head.tasks:
            raise ValueError(f"{wide.tasks=} must equal {head.tasks=}")
        self.tokenizer = tokenizer
        self.interaction = interaction
        self.backbone = backbone
        self.head = head
        self.wide = wide
        self.topology = topology
        self.tasks = head.tasks
        # The flat input width (today's DCN-v2 "input_dim"), for notes and benchmarks.
        self.d_input = tokenizer.flat_width
        self._needs_flat = self.topology == "parallel" or self.interaction.input.kind == "flat"

    def forward(self, x_num: Tensor, x_cat: Tensor, x_vec: Tensor | None = None) -> Tensor:
        emb = self.tokenizer(x_num, x_cat, x_vec)
        # The flat vector is built once, whether the interaction, the backbone or both read it.
        flat = emb.flat() if self._needs_flat else None
        mixed = self._interact(emb, flat)
        if self.topology == "stacked":
            features = self.backbone(mixed)
        else:
            assert flat is not None
            features = torch.cat([mixed, self.backbone(flat)], dim=1)
        logits: Tensor = self.head(features)
        if self.wide is not None:
            logits = logits + self.wide(emb.numeric, x_cat)
        return logits

    def embedding_footprint(self) -> Footprint:
        """Parameters and bytes of the categorical embeddings, for quality against memory."""
        return self.tokenizer.embedding_footprint()

    def _interact(self, emb: Embedded, flat: Tensor | None) -> Tensor:
        """The interaction's output as a flat vector (token outputs flattened, dense prepended)."""
        if flat is not None and self.interaction.input.kind == "flat":
            out: Tensor = self.interaction(flat)
            return out
        assert emb.tokens is not None  # checked when built
        out = self.interaction(emb.tokens)
        return emb.with_dense(out.flatten(1) if out.ndim == 3 else out)


def _interaction_input(tokenizer: Tokenizer, kind: str) -> TensorSpec:
    if kind == "flat":
        return TensorSpec.flat(tokenizer.flat_width)
    if tokenizer.tokens is None:
        raise ValueError(
            "the interaction takes field tokens but the tokenizer gives none "
            "(no categorical features, numeric_tokens = 'flat' and no vector tokens)"
        )
    return tokenizer.tokens


def _flat_width(tokenizer: Tokenizer, interaction: Interaction) -> int:
    width = interaction.output.flat_width
    return width if interaction.input.kind == "flat" else tokenizer.dense_width + width


@dataclass(frozen=True)
class RankerConfig:
    """A ranker's architecture: parts by registered ``kind``, their topology, a wide part.

    The defaults are DCN-v2 as the paper recommends it (stacked cross network, 3 full-rank
    layers, MLP 512-256, embeddings of 16).

    Attributes:
        tokenizer: embeddings and numeric tokens.
        interaction: a config from ``INTERACTIONS``.
        backbone: a config from ``BACKBONES``.
        head: a config from ``HEADS``.
        topology: ``stacked`` (interaction then backbone) or ``parallel`` (both on the input,
            concatenated before the head).
        wide: add first-order terms (a weight per id and per numeric channel) to the logits.
    """

    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    interaction: InteractionConfig = field(default_factory=CrossConfig)
    backbone: BackboneConfig = field(default_factory=MLPConfig)
    head: HeadConfig = field(default_factory=LinearHeadConfig)
    topology: Topology = "stacked"
    wide: bool = False

    def __post_init__(self) -> None:
        if self.topology not in ("stacked", "parallel"):
            raise ValueError(f"topology must be 'stacked' or 'parallel', got {self.topology=}")
        if not isinstance(self.wide, bool):
            raise ValueError(f"wide must be true or false, got {self.wide=}")

    def build(self, inputs: FeatureInputs, tasks: int) -> Ranker:
        """The ranker for a dataset (not seeded: seed torch first for reproducible weights).

        Args:
            inputs: the schema's sizes and training statistics (`FeatureInputs.of(data)`).
            tasks: labels the head predicts.

        Raises:
            ValueError: a part cannot be built for these sizes (a rank above the width, token
                interactions without tokens, ...); the message names the part.
        """
        tokenizer = self.tokenizer.build(inputs, interaction_takes=self.interaction.takes)
        interaction = _named("interaction", self.interaction.kind, self.interaction.build)(
            _interaction_input(tokenizer, self.interaction.takes)
        )
        mixed = _flat_width(tokenizer, interaction)
        backbone_in = mixed if self.topology == "stacked" else tokenizer.flat_width
        backbone = _named("backbone", self.backbone.kind, self.backbone.build)(backbone_in)
        head_in = backbone.d_out + (mixed if self.topology == "parallel" else 0)
        head = _named("head", self.head.kind, self.head.build)(head_in, tasks)
        wide = (
            Wide(inputs.cardinalities, tokenizer.numeric_width, tasks, clip_to=tokenizer.clip_to)
            if self.wide
            else None
        )
        return Ranker(tokenizer, interaction, backbone, head, topology=self.topology, wide=wide)


def _named(part: str, kind: str, build: Callable[..., T]) -> Callable[..., T]:
    """``build`` whose ValueError says which part failed (``interaction cross: rank ...``)."""

    def call(*args: object) -> T:
        try:
            return build(*args)
        except ValueError as e:
            raise ValueError(f"{part} {kind}: {e}") from None

    return call
