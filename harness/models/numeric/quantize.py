"""``quantize``: a quantile bin id per feature, and a learned embedding of each bin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from harness.models.inputs import FeatureInputs
from harness.models.numeric.base import NumericEncoding, NumericEncodingConfig
from harness.models.numeric.checks import check_bool, check_int
from harness.models.numeric.knots import bin_edges, knot_matrix
from harness.models.numeric.missing import split_missing

__all__ = ["Quantize", "QuantizeConfig"]


class Quantize(NumericEncoding):
    """Each value to the quantile bin it falls in, each bin of each feature a learned vector.

    Bin ``i`` of a feature holds the values in ``[e_i, e_(i+1))`` of its distinct edges (the
    first and last bins are open-ended, so unseen values fall in them); a feature has at most
    ``bins`` bins, fewer where quantiles coincide (a point mass is one bin).

    Missing: a bin id of its own per feature (id ``bins``), with its learned vector; with the
    indicator a last channel also flags it.

    **Shape**: ``(B, n_features) -> (B, n_features, d_out)``, ``d_out = d_embedding`` plus 1
    with the missing indicator (the last channel the flag).

    **Examples**

    >>> m = Quantize([np.array([0.0, 1.0, 2.0])], bins=2, d_embedding=3)
    >>> m.bin_ids(torch.tensor([[-5.0], [1.0], [9.0], [float("nan")]])).flatten().tolist()
    [0, 1, 1, 2]
    >>> m(torch.zeros(4, 1)).shape
    torch.Size([4, 1, 4])

    Args:
        edges: per feature, its increasing distinct bin edges (at least two).
        bins: the most bins of a feature (the table's rows per feature, missing aside).
        d_embedding: channels per feature.
        missing_indicator: add the flag channel.
    """

    thresholds: Tensor
    last_bin: Tensor
    offsets: Tensor

    def __init__(
        self,
        edges: Sequence[np.ndarray],
        *,
        bins: int,
        d_embedding: int,
        missing_indicator: bool = True,
    ) -> None:
        super().__init__()
        self.n_features = len(edges)
        self.bins = bins
        self.missing_indicator = missing_indicator
        self.d_out = d_embedding + 1 if missing_indicator else d_embedding
        inner = [np.asarray(e, dtype=np.float32)[1:-1] for e in edges]
        if any(t.size > bins - 1 for t in inner):
            raise ValueError(f"more edges than {bins=} bins allow")
        # Padded with +inf, which no finite value reaches; ids are capped at each feature's
        # last bin so that +inf itself lands there too.
        thresholds = np.full((self.n_features, max(bins - 1, 1)), np.inf, dtype=np.float32)
        for j, t in enumerate(inner):
            thresholds[j, : t.size] = t
        self.register_buffer("thresholds", torch.tensor(thresholds))
        self.register_buffer("last_bin", torch.tensor([t.size for t in inner], dtype=torch.long))
        self.register_buffer("offsets", torch.arange(self.n_features) * (bins + 1))
        # One table for all features (row = offset + bin id), looked up in one call.
        self.table = nn.Embedding(self.n_features * (bins + 1), d_embedding)

    def bin_ids(self, x_num: Tensor) -> Tensor:
        """Each value's bin id ``(B, n_features)``: ``0 .. last bin``, ``bins`` when missing."""
        x, missing = split_missing(x_num, self.n_features)
        ids = torch.searchsorted(self.thresholds, x.t().contiguous(), right=True).t()
        ids = torch.minimum(ids, self.last_bin)
        return ids.masked_fill(missing, self.bins)

    def forward(self, x_num: Tensor) -> Tensor:
        ids = self.bin_ids(x_num)
        out: Tensor = self.table(ids + self.offsets)
        if not self.missing_indicator:
            return out
        return torch.cat((out, (ids == self.bins).unsqueeze(-1).to(out.dtype)), dim=-1)


@dataclass(frozen=True)
class QuantizeConfig(NumericEncodingConfig):
    """``quantize``: quantile bins from the training knots, a learned vector per bin.

    Attributes:
        bins: quantile bins per feature (at most; coinciding quantiles merge).
        d_embedding: channels per feature (the size of each bin's vector).
        missing_indicator: add a 0/1 "was missing" channel (missing also has its own bin).
    """

    bins: int = 16
    d_embedding: int = 8
    missing_indicator: bool = True

    def __post_init__(self) -> None:
        check_int("bins", self.bins, low=2)
        check_int("d_embedding", self.d_embedding, low=1)
        check_bool("missing_indicator", self.missing_indicator)

    def build(self, inputs: FeatureInputs) -> Quantize:
        return Quantize(
            bin_edges(knot_matrix(inputs.numeric), self.bins),
            bins=self.bins,
            d_embedding=self.d_embedding,
            missing_indicator=self.missing_indicator,
        )
