"""``periodic``: PLR embeddings (periodic, linear, ReLU) of the standardised value."""

from __future__ import annotations

from dataclasses import dataclass

import rtdl_num_embeddings as rtdl  # type: ignore[import-untyped]
from torch import Tensor

from harness.models.inputs import FeatureInputs
from harness.models.numeric.base import NumericEncoding, NumericEncodingConfig
from harness.models.numeric.checks import check_bool, check_clip, check_int, check_positive
from harness.models.numeric.knots import knot_matrix
from harness.models.numeric.missing import MissingValues, split_missing
from harness.models.numeric.standardize import Scaling, Standardize

__all__ = ["Periodic", "PeriodicConfig"]


class Periodic(NumericEncoding):
    """PLR embeddings (Gorishniy et al., 2022) of each feature's clamped, standardised value.

    ``z`` (as ``standard`` computes it) goes through ``rtdl_num_embeddings.PeriodicEmbeddings``:
    ``cos`` and ``sin`` of ``2 pi c z`` for ``frequencies`` frequencies ``c ~ N(0, sigma)`` per
    feature, a linear map to ``d_embedding`` (per feature, or shared when ``lite``) and a ReLU.

    Missing: the value channels hold 0 and the flag channel 1 with the indicator; without it, a
    learned per-feature vector (initialised at 0).

    **Shape**: ``(B, n_features) -> (B, n_features, d_out)``, ``d_out = d_embedding`` plus 1
    with the missing indicator (the last channel the flag).

    **Examples**

    >>> import numpy as np, torch
    >>> inputs = FeatureInputs.from_arrays(np.random.default_rng(0).normal(size=(1000, 2)))
    >>> m = PeriodicConfig(d_embedding=8).build(inputs)
    >>> m(torch.tensor([[0.0, float("nan")]])).shape
    torch.Size([1, 2, 9])

    Args:
        scaling: clamp bounds and moments of ``z`` (`Scaling.fit`).
        d_embedding: channels per feature.
        frequencies: frequencies per feature.
        sigma: standard deviation of the frequencies' initialisation.
        lite: one linear map shared by all features (else one per feature).
        learnable: learn the frequencies (else they keep their random start).
        missing_indicator: flag channel (True) or learned missing vector (False).
    """

    def __init__(
        self,
        scaling: Scaling,
        *,
        d_embedding: int,
        frequencies: int,
        sigma: float,
        lite: bool = False,
        learnable: bool = True,
        missing_indicator: bool = True,
    ) -> None:
        super().__init__()
        self.n_features = len(scaling.mean)
        self.standardize = Standardize(scaling)
        self.periodic = rtdl.PeriodicEmbeddings(
            self.n_features,
            d_embedding,
            n_frequencies=frequencies,
            frequency_init_scale=sigma,
            activation=True,
            lite=lite,
        )
        if not learnable:
            self.periodic.periodic.weight.requires_grad_(False)
        self.missing = MissingValues(self.n_features, d_embedding, indicator=missing_indicator)
        self.d_out = self.missing.d_out

    def forward(self, x_num: Tensor) -> Tensor:
        x, missing = split_missing(x_num, self.n_features)
        values: Tensor = self.periodic(self.standardize(x))
        out: Tensor = self.missing(values, missing)
        return out


@dataclass(frozen=True)
class PeriodicConfig(NumericEncodingConfig):
    """``periodic``: PLR (periodic, linear, ReLU) embeddings of the standardised value.

    Attributes:
        d_embedding: channels per feature.
        frequencies: sin/cos frequencies per feature (``k`` in the paper).
        sigma: scale of the frequencies' normal initialisation (``sigma`` in the paper, the
            option that matters most: larger resolves finer detail of ``z``).
        lite: share the linear map across features (the TabR paper's lighter variant).
        learnable: learn the frequencies (else they are fixed at their random start).
        clip: the tail share clamped before standardising (as ``standard``'s ``clip``).
        missing_indicator: add a 0/1 "was missing" channel (else a learned missing vector).
    """

    d_embedding: int = 16
    frequencies: int = 16
    sigma: float = 1.0
    lite: bool = False
    learnable: bool = True
    clip: float = 0.001
    missing_indicator: bool = True

    def __post_init__(self) -> None:
        check_int("d_embedding", self.d_embedding, low=1)
        check_int("frequencies", self.frequencies, low=1)
        check_positive("sigma", self.sigma)
        check_bool("lite", self.lite)
        check_bool("learnable", self.learnable)
        check_clip(self.clip)
        check_bool("missing_indicator", self.missing_indicator)

    def build(self, inputs: FeatureInputs) -> Periodic:
        return Periodic(
            Scaling.fit(knot_matrix(inputs.numeric), clip=self.clip),
            d_embedding=self.d_embedding,
            frequencies=self.frequencies,
            sigma=self.sigma,
            lite=self.lite,
            learnable=self.learnable,
            missing_indicator=self.missing_indicator,
        )
