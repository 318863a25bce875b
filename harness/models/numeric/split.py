"""``split``: named features through one encoding, the others through another."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from harness.models.inputs import FeatureInputs, TrainSample
from harness.models.numeric.base import NumericEncoding, NumericEncodingConfig
from harness.models.numeric.checks import check_bool
from harness.models.numeric.log1p import Log1pConfig
from harness.models.numeric.ple import PLEConfig

__all__ = ["Split", "SplitConfig", "subset_inputs"]


def subset_inputs(inputs: FeatureInputs, columns: Sequence[int]) -> FeatureInputs:
    """``inputs`` restricted to the numeric features at ``columns`` (categorical ones kept)."""
    index = list(columns)
    sample: Callable[[], TrainSample] | None = None
    if inputs.sample is not None:
        full = inputs.sample

        def sample() -> TrainSample:
            rows = full()
            return TrainSample(x_num=rows.x_num[:, index], y=rows.y)

    return FeatureInputs(
        numeric=tuple(inputs.numeric[i] for i in index),
        cardinalities=inputs.cardinalities,
        counts=inputs.counts,
        sample=sample,
    )


class Split(NumericEncoding):
    """Two encodings side by side: ``selected`` for some features, ``others`` for the rest.

    Each part encodes its own features; the narrower part's channels are padded with zeros to
    the wider one's ``d_out`` (before its flag channel, which stays last), and the features
    are put back in their input order.

    Missing: as each part represents it (both with the flag channel, or both without).

    **Shape**: ``(B, n_features) -> (B, n_features, d_out)``, ``d_out`` the larger of the two
    parts' ``d_out``.

    **Examples**

    >>> import numpy as np, torch
    >>> from harness.models.numeric.standard import StandardConfig
    >>> inputs = FeatureInputs.from_arrays(np.random.default_rng(0).normal(size=(100, 3)))
    >>> m = SplitConfig(columns=("n1",), selected=PLEConfig(bins=4), others=StandardConfig())
    >>> m.build(inputs)(torch.zeros(2, 3)).shape  # ple: 4 channels and the flag
    torch.Size([2, 3, 5])

    Args:
        selected: the encoding of the features at ``columns``.
        others: the encoding of the other features, in input order.
        columns: the input positions of ``selected``'s features, increasing.
        missing_indicator: whether both parts end with a flag channel (kept last when padding).
    """

    selected_index: Tensor
    others_index: Tensor
    order: Tensor

    def __init__(
        self,
        selected: NumericEncoding,
        others: NumericEncoding,
        columns: Sequence[int],
        *,
        missing_indicator: bool,
    ) -> None:
        super().__init__()
        self.n_features = selected.n_features + others.n_features
        chosen = sorted(columns)
        if len(chosen) != selected.n_features or len(set(chosen)) != len(chosen):
            raise ValueError(f"{columns=} must be {selected.n_features} distinct positions")
        if chosen and not 0 <= chosen[0] <= chosen[-1] < self.n_features:
            raise ValueError(f"{columns=} must lie in [0, {self.n_features})")
        rest = [j for j in range(self.n_features) if j not in set(chosen)]
        self.selected = selected
        self.others = others
        self.missing_indicator = missing_indicator
        self.d_out = max(selected.d_out, others.d_out)
        self.register_buffer("selected_index", torch.tensor(chosen, dtype=torch.long))
        self.register_buffer("others_index", torch.tensor(rest, dtype=torch.long))
        # Where each input feature sits in [selected..., others...].
        position = {j: k for k, j in enumerate(chosen + rest)}
        self.register_buffer(
            "order", torch.tensor([position[j] for j in range(self.n_features)], dtype=torch.long)
        )

    def _pad(self, encoded: Tensor) -> Tensor:
        width = self.d_out - encoded.shape[-1]
        if width == 0:
            return encoded
        zeros = encoded.new_zeros(*encoded.shape[:-1], width)
        if self.missing_indicator:
            return torch.cat((encoded[..., :-1], zeros, encoded[..., -1:]), dim=-1)
        return torch.cat((encoded, zeros), dim=-1)

    def forward(self, x_num: Tensor) -> Tensor:
        if x_num.ndim != 2 or x_num.shape[1] != self.n_features:
            raise ValueError(
                f"expected x_num of shape (B, {self.n_features}), got {tuple(x_num.shape)=}"
            )
        a: Tensor = self.selected(x_num.index_select(1, self.selected_index))
        b: Tensor = self.others(x_num.index_select(1, self.others_index))
        return torch.cat((self._pad(a), self._pad(b)), dim=1).index_select(1, self.order)


@dataclass(frozen=True)
class SplitConfig(NumericEncodingConfig):
    """``split``: the features named in ``columns`` through ``selected``, the rest ``others``.

    A search space can then say "I5 and I7 as ple, the rest log1p"::

        [model.tokenizer.numeric]
        kind = "split"
        [model.tokenizer.numeric.split]
        columns = ["I5", "I7"]
        [model.tokenizer.numeric.split.selected]
        kind = "ple"
        [model.tokenizer.numeric.split.others]
        kind = "log1p"

    Attributes:
        columns: names of the numeric features ``selected`` encodes (each must exist).
        selected: their encoding.
        others: the encoding of every other numeric feature.
        missing_indicator: add the 0/1 "was missing" channel in both parts; it overrides the
            parts' own setting, so that every feature's flag is in the same (last) channel.
    """

    columns: tuple[str, ...] = ()
    selected: NumericEncodingConfig = field(default_factory=PLEConfig)
    others: NumericEncodingConfig = field(default_factory=Log1pConfig)
    missing_indicator: bool = True

    def __post_init__(self) -> None:
        columns = self.columns
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise ValueError(f"columns must be a list of feature names, got {columns=}")
        object.__setattr__(self, "columns", tuple(columns))
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"columns must not repeat a name, got {columns=}")
        for name in ("selected", "others"):
            part = getattr(self, name)
            if not isinstance(part, NumericEncodingConfig):
                raise ValueError(f"{name} must be a numeric encoding config, got {name}={part!r}")
            if not any(f.name == "missing_indicator" for f in dataclasses.fields(part)):
                raise ValueError(f"{name} must offer missing_indicator, got {name}={part!r}")
        check_bool("missing_indicator", self.missing_indicator)

    def build(self, inputs: FeatureInputs) -> Split:
        names = [f.name for f in inputs.numeric]
        unknown = [c for c in self.columns if c not in names]
        if unknown:
            raise ValueError(
                f"split: columns {unknown} are not numeric features; valid: {', '.join(names)}"
            )
        wanted = set(self.columns)
        chosen = [j for j, name in enumerate(names) if name in wanted]
        rest = [j for j, name in enumerate(names) if name not in wanted]
        flag = {"missing_indicator": self.missing_indicator}
        selected = dataclasses.replace(self.selected, **flag)
        others = dataclasses.replace(self.others, **flag)
        return Split(
            selected.build(subset_inputs(inputs, chosen)),
            others.build(subset_inputs(inputs, rest)),
            chosen,
            missing_indicator=self.missing_indicator,
        )
