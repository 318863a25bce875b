"""Interaction layers: field tokens or the flat vector in, tokens or flat out.

A new layer is one module (an `InteractionConfig` subclass and its `Interaction`) plus one
``INTERACTIONS.register`` line; the contract tests cover it.
"""

from harness.models.interactions.autoint import AutoInt, AutoIntConfig
from harness.models.interactions.base import Interaction, InteractionConfig
from harness.models.interactions.cross import CrossConfig, CrossNetV2
from harness.models.interactions.dot import DotConfig, DotInteraction
from harness.models.interactions.fm import FactorizationMachine, FMConfig
from harness.models.interactions.hiformer import Hiformer, HiformerConfig
from harness.models.interactions.none import NoInteraction, NoInteractionConfig
from harness.registry import Registry

__all__ = [
    "INTERACTIONS",
    "AutoInt",
    "AutoIntConfig",
    "CrossConfig",
    "CrossNetV2",
    "DotConfig",
    "DotInteraction",
    "FMConfig",
    "FactorizationMachine",
    "Hiformer",
    "HiformerConfig",
    "Interaction",
    "InteractionConfig",
    "NoInteraction",
    "NoInteractionConfig",
]

INTERACTIONS: Registry[InteractionConfig] = Registry("interaction", InteractionConfig)
INTERACTIONS.register("none", NoInteractionConfig, "no explicit interaction (flat -> flat)")
INTERACTIONS.register(
    "fm", FMConfig, "factorization machine pairwise term, O(F d) (tokens -> flat)"
)
INTERACTIONS.register(
    "dot", DotConfig, "DLRM pairwise dot products + dense vector (tokens -> flat)"
)
INTERACTIONS.register(
    "cross", CrossConfig, "DCN-v2 cross layers: full, low-rank, mixture of experts (flat -> flat)"
)
INTERACTIONS.register(
    "autoint", AutoIntConfig, "AutoInt multi-head self-attention with residual (tokens -> tokens)"
)
INTERACTIONS.register(
    "hiformer", HiformerConfig, "heterogeneous / Hiformer low-rank attention (tokens -> tokens)"
)
