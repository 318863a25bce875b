"""Heads: the ranker's features to one logit per task (single- and multi-task).

A new head is one module (a `HeadConfig` subclass and its `Head`) plus one
``HEADS.register`` line; the contract tests cover it.
"""

from harness.models.heads.base import Head, HeadConfig
from harness.models.heads.linear import LinearHead, LinearHeadConfig
from harness.models.heads.mmoe import MMoE, MMoEConfig
from harness.models.heads.shared_bottom import SharedBottom, SharedBottomConfig
from harness.registry import Registry

__all__ = [
    "HEADS",
    "Head",
    "HeadConfig",
    "LinearHead",
    "LinearHeadConfig",
    "MMoE",
    "MMoEConfig",
    "SharedBottom",
    "SharedBottomConfig",
]

HEADS: Registry[HeadConfig] = Registry("head", HeadConfig)
HEADS.register("linear", LinearHeadConfig, "a linear logit per task")
HEADS.register("shared_bottom", SharedBottomConfig, "shared backbone, an MLP tower per task")
HEADS.register("mmoe", MMoEConfig, "multi-gate mixture of experts, a gate and tower per task")
