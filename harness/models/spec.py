"""The two tensor kinds parts exchange, and what the tokenizer hands to the rest of a ranker.

- **field tokens** ``(B, F, d)``: one vector of a shared size ``d`` per feature (numeric tokens
  first, then categorical ones);
- **flat** ``(B, D)``: one vector per row.

Every interaction declares which kind it takes and which it gives (`TensorSpec`), so the ranker
can check a composition when it is built, not when the first batch fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

__all__ = ["Embedded", "TensorKind", "TensorSpec"]

TensorKind = Literal["tokens", "flat"]


@dataclass(frozen=True)
class TensorSpec:
    """The shape of a part's input or output, without the batch dimension.

    Attributes:
        kind: ``"tokens"`` ``(B, fields, width)`` or ``"flat"`` ``(B, width)``.
        width: the token size ``d`` (tokens) or the vector width ``D`` (flat).
        fields: the number of tokens ``F`` (tokens only; 0 for flat).
        numeric_fields: how many of the first tokens stand for numeric features (DLRM's dot
            interaction keeps them as the "dense" vector next to the pairwise dot products).
    """

    kind: TensorKind
    width: int
    fields: int = 0
    numeric_fields: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("tokens", "flat"):
            raise ValueError(f"kind must be 'tokens' or 'flat', got {self.kind=}")
        if self.width < 0 or self.fields < 0 or not 0 <= self.numeric_fields <= self.fields:
            raise ValueError(f"bad sizes: {self.width=} {self.fields=} {self.numeric_fields=}")
        if self.kind == "flat" and self.fields:
            raise ValueError(f"a flat tensor has no fields, got {self.fields=}")

    @classmethod
    def tokens(cls, fields: int, width: int, *, numeric_fields: int = 0) -> TensorSpec:
        return cls("tokens", width, fields, numeric_fields)

    @classmethod
    def flat(cls, width: int) -> TensorSpec:
        return cls("flat", width)

    @property
    def flat_width(self) -> int:
        """The width once flattened: ``F * d`` for tokens, ``D`` for flat."""
        return self.fields * self.width if self.kind == "tokens" else self.width

    def check(self, x: Tensor, what: str) -> None:
        """Raises ValueError unless ``x`` has this shape (batch dimension aside)."""
        expected = (self.fields, self.width) if self.kind == "tokens" else (self.width,)
        if tuple(x.shape[1:]) != expected or x.ndim != len(expected) + 1:
            shown = ", ".join(str(s) for s in expected)
            raise ValueError(f"{what}: expected (B, {shown}), got {tuple(x.shape)}")


@dataclass(frozen=True)
class Embedded:
    """What the tokenizer gives: field tokens, and numeric values kept out of the tokens.

    Attributes:
        tokens: ``(B, F, d)``, or None when there are no tokens.
        dense: ``(B, D0)`` values that join the flat view only: numeric encodings (the
            tokenizer's ``numeric_tokens = "flat"``, today's DCN-v2 input), then categorical
            embeddings of differing sizes concatenated (a flat interaction needs no equal
            token size), or None.
        numeric: ``(B, n_num * c)`` every numeric encoding channel (whatever the token mode),
            for the first-order ``wide`` part; None without numeric features.
    """

    tokens: Tensor | None
    dense: Tensor | None
    numeric: Tensor | None = None

    def flat(self) -> Tensor:
        """``[dense | tokens flattened]``, the flat input of flat parts."""
        return self.with_dense(None if self.tokens is None else self.tokens.flatten(1))

    def with_dense(self, flat: Tensor | None) -> Tensor:
        """``[dense | flat]``: a flat output of the token path with the dense values prepended."""
        parts = [t for t in (self.dense, flat) if t is not None]
        if not parts:
            raise ValueError("nothing to flatten: no tokens and no dense values")
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
