"""Backbones: the deep part of a ranker, ``(B, d_in) -> (B, d_out)``.

A new backbone is one module (a `BackboneConfig` subclass and its `Backbone`) plus one
``BACKBONES.register`` line; the contract tests cover it.
"""

from harness.models.backbones.base import ACTIVATIONS, NORMS, Backbone, BackboneConfig
from harness.models.backbones.densenet import DenseNet, DenseNetConfig
from harness.models.backbones.mlp import MLP, MLPConfig
from harness.models.backbones.none import NoBackbone, NoBackboneConfig
from harness.models.backbones.resnet import ResNet, ResNetConfig
from harness.registry import Registry

__all__ = [
    "ACTIVATIONS",
    "BACKBONES",
    "MLP",
    "NORMS",
    "Backbone",
    "BackboneConfig",
    "DenseNet",
    "DenseNetConfig",
    "MLPConfig",
    "NoBackbone",
    "NoBackboneConfig",
    "ResNet",
    "ResNetConfig",
]

BACKBONES: Registry[BackboneConfig] = Registry("backbone", BackboneConfig)
BACKBONES.register("none", NoBackboneConfig, "no deep part (identity)")
BACKBONES.register("mlp", MLPConfig, "Linear-norm-activation-dropout layers")
BACKBONES.register("resnet", ResNetConfig, "pre-norm residual blocks x + F(x)")
BACKBONES.register("densenet", DenseNetConfig, "dense blocks concat(x, F(x))")
