"""``ple``: piecewise-linear encoding over quantile (or target-aware tree) bins."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import rtdl_num_embeddings as rtdl  # type: ignore[import-untyped]
import torch
from torch import Tensor, nn

from harness.models.inputs import FeatureInputs, TrainSample
from harness.models.numeric.base import NumericEncoding, NumericEncodingConfig
from harness.models.numeric.checks import check_bool, check_int
from harness.models.numeric.knots import bin_edges, knot_matrix
from harness.models.numeric.missing import MissingValues, split_missing

__all__ = ["PLEConfig", "PiecewiseLinear", "tree_edges"]


def tree_edges(
    sample: TrainSample, bins: int, *, min_samples_leaf: int, fallback: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """Per feature, the edges of a decision tree's leaves on the first task's labels.

    ``rtdl_num_embeddings.compute_bins`` grows a classification tree of at most ``bins``
    leaves per feature on the sample's present values; its thresholds (with the minimum and
    maximum) are the edges. A feature the tree cannot split (fewer distinct present values than
    2, or no more rows than ``bins``) keeps its ``fallback`` edges.
    """
    labels = sample.y[:, 0]
    out = []
    for j, default in enumerate(fallback):
        column = sample.x_num[:, j]
        present = np.isfinite(column)  # compute_bins refuses NaN and infinities
        x, y = column[present], labels[present]
        if x.size <= bins or np.unique(x).size < 2:
            out.append(np.asarray(default, dtype=np.float32))
            continue
        # On the CPU whatever the default device: compute_bins makes tensors of its results.
        with torch.device("cpu"), _single_bins_expected():
            (edges,) = rtdl.compute_bins(
                torch.tensor(x[:, None], dtype=torch.float32),
                bins,
                tree_kwargs={"min_samples_leaf": min_samples_leaf},
                y=torch.tensor(y, dtype=torch.float32),
                regression=False,
            )
        out.append(edges.numpy().astype(np.float32))
    return out


class PiecewiseLinear(NumericEncoding):
    """Piecewise-linear encoding (Gorishniy et al., 2022) of each feature over its bins.

    For edges ``e_0 < ... < e_T``, channel ``t`` is 1 above bin ``t``, 0 below it and linear
    inside it, so the channels are continuous and non-decreasing in ``x``, and their sum locates
    ``x`` among the quantiles. Computed by ``rtdl_num_embeddings``: ``PiecewiseLinearEncoding``
    (channels padded to the feature with the most bins, the padding 0), or with ``d_embedding``
    ``PiecewiseLinearEmbeddings`` (a per-feature linear map of the encoding, optional ReLU).

    Missing: the value channels hold 0 and the flag channel 1 with the indicator; without it, a
    learned per-feature vector (initialised at 0).

    **Shape**: ``(B, n_features) -> (B, n_features, d_out)``: ``d_out`` the most bins of a
    feature (or ``d_embedding``), plus 1 with the missing indicator (the last channel the flag).

    **Examples**

    >>> m = PiecewiseLinear([np.array([0.0, 1.0, 3.0])], missing_indicator=False)
    >>> m(torch.tensor([[-1.0], [0.5], [2.0], [9.0]]))[:, 0].tolist()
    [[0.0, 0.0], [0.5, 0.0], [1.0, 0.5], [1.0, 1.0]]

    Args:
        edges: per feature, its increasing distinct bin edges (at least two).
        d_embedding: 0 for the encoding itself, else the embeddings' channels.
        activation: a ReLU after the embeddings' linear map (with ``d_embedding`` only).
        missing_indicator: flag channel (True) or learned missing vector (False).
    """

    low: Tensor
    high: Tensor

    def __init__(
        self,
        edges: Sequence[np.ndarray],
        *,
        d_embedding: int = 0,
        activation: bool = False,
        missing_indicator: bool = True,
    ) -> None:
        super().__init__()
        self.n_features = len(edges)
        edges = [np.asarray(e, dtype=np.float32) for e in edges]
        for j, e in enumerate(edges):
            if e.ndim != 1 or e.size < 2 or not (np.diff(e) > 0).all():
                raise ValueError(f"feature {j}: edges must be >= 2 increasing values, got {e=}")
        # NOTE[PAPER]: values are clamped to the outer edges, where the paper extends the first
        # and last bins linearly: an unseen 1e30 then encodes as the largest training value,
        # not as a channel of 1e30 / bin width.
        self.register_buffer("low", torch.tensor([float(e[0]) for e in edges]))
        self.register_buffer("high", torch.tensor([float(e[-1]) for e in edges]))
        self.ple: nn.Module | None = None
        channels = d_embedding or max((e.size - 1 for e in edges), default=1)
        if self.n_features:
            self.ple = _rtdl_module(edges, d_embedding, activation)
        self.missing = MissingValues(self.n_features, channels, indicator=missing_indicator)
        self.d_out = self.missing.d_out

    def forward(self, x_num: Tensor) -> Tensor:
        x, missing = split_missing(x_num, self.n_features)
        x = torch.clamp(x, self.low, self.high)
        if self.ple is None:  # no feature: rtdl needs at least one
            channels = self.missing.d_out - int(self.missing.indicator)
            empty: Tensor = self.missing(x.new_zeros(*x.shape, channels), missing)
            return empty
        values: Tensor = self.ple(x)
        out: Tensor = self.missing(values, missing)
        return out


@contextlib.contextmanager
def _single_bins_expected() -> Iterator[None]:
    """Silences rtdl's warning about a feature with one bin: a constant feature, or a tree
    without a split, has one here by design."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*just two bin edges.*")
        yield


def _rtdl_module(edges: Sequence[np.ndarray], d_embedding: int, activation: bool) -> nn.Module:
    """rtdl's encoding or embeddings for ``edges``, on torch's default device.

    rtdl writes the bins into its buffers element by element, which the ``meta`` device cannot
    hold: the module is built on the CPU, then moved.
    """
    device = torch.get_default_device()
    with torch.device("cpu"), _single_bins_expected():
        bins = [torch.tensor(e) for e in edges]
        module: nn.Module
        if d_embedding:
            # NOTE[PAPER]: version "A" (the paper's PLE-then-linear); version "B" adds a linear
            # term of the raw value, unscaled here (heavy-tailed counts reach 1e6).
            module = rtdl.PiecewiseLinearEmbeddings(
                bins, d_embedding, activation=activation, version="A"
            )
        else:
            # PiecewiseLinearEncoding's own forward flattens the features (dropping the
            # padding); its impl keeps the (B, n_features, channels) layout the tokenizer reads.
            module = rtdl.PiecewiseLinearEncoding(bins).impl
    return module.to(device)


@dataclass(frozen=True)
class PLEConfig(NumericEncodingConfig):
    """``ple``: piecewise-linear encoding over quantile bins from the knots, or tree bins.

    Attributes:
        bins: bins per feature (at most: coinciding quantiles merge, a tree may split less).
        d_embedding: 0 for the encoding itself (``bins`` channels), else a learned per-feature
            linear map of it to ``d_embedding`` channels (``PiecewiseLinearEmbeddings``).
        activation: a ReLU after that linear map (no effect when ``d_embedding`` is 0).
        target_aware: bins from a decision tree on the first task's labels, per feature, fitted
            on the training sample (``FeatureInputs.sample``) instead of quantiles.
        tree_min_samples_leaf: the fewest sample rows in a tree bin (``target_aware``).
        missing_indicator: add a 0/1 "was missing" channel (else a learned missing vector).
    """

    bins: int = 16
    d_embedding: int = 0
    activation: bool = False
    target_aware: bool = False
    tree_min_samples_leaf: int = 64
    missing_indicator: bool = True

    def __post_init__(self) -> None:
        check_int("bins", self.bins, low=2)
        check_int("d_embedding", self.d_embedding, low=0)
        check_bool("activation", self.activation)
        check_bool("target_aware", self.target_aware)
        check_int("tree_min_samples_leaf", self.tree_min_samples_leaf, low=1)
        check_bool("missing_indicator", self.missing_indicator)

    def build(self, inputs: FeatureInputs) -> PiecewiseLinear:
        edges = bin_edges(knot_matrix(inputs.numeric), self.bins)
        if self.target_aware and inputs.n_num:
            if inputs.sample is None:
                raise ValueError(
                    "ple: target_aware=True fits tree bins on labelled training rows, but these "
                    "inputs have no training sample (FeatureInputs.sample is None)"
                )
            edges = tree_edges(
                inputs.sample(),
                self.bins,
                min_samples_leaf=self.tree_min_samples_leaf,
                fallback=edges,
            )
        return PiecewiseLinear(
            edges,
            d_embedding=self.d_embedding,
            activation=self.activation,
            missing_indicator=self.missing_indicator,
        )
