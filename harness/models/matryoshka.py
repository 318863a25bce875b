"""Matryoshka ID embeddings (Kusupati et al. 2022): a ranker served with its categorical
embeddings cut to a prefix of their dims.

`truncated` scores (or trains) a model as if each ID table kept only its first ``k`` columns:
the categorical vectors are multiplied by a 0/1 mask (`CategoricalEmbedding.prefix_mask`), so
every later part sees the shapes it was built for and ``k`` columns are all a server would
store (`prefix_bytes`). Numeric and vector tokens are untouched. Only one embedding size for
every feature (``size = "fixed"``) can be cut: with ``log2`` or ``root4`` sizes the prefix of a
projected or concatenated vector is not a prefix of its table (`check_prefixes` says so).

**Examples**

>>> with truncated(model, 4):
...     probs = predict(model, data.valid, device)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from torch import nn

from harness.models.tokenizer import Tokenizer

__all__ = ["check_prefixes", "prefix_bytes", "tokenizers", "truncated"]


def tokenizers(model: nn.Module) -> list[Tokenizer]:
    """The tokenizers inside ``model`` that embed categorical ids."""
    return [m for m in model.modules() if isinstance(m, Tokenizer) and m.embedding is not None]


def check_prefixes(model: nn.Module, sizes: Sequence[int]) -> None:
    """Raises ValueError unless ``model``'s categorical embeddings can be cut to each size.

    Raises:
        ValueError: the model has no categorical embedding, a size is not below the
            embedding's width, or the embedding cannot be cut (sizes per feature, a multihash
            size that is not a multiple of ``hashes``).
    """
    found = tokenizers(model)
    if sizes and not found:
        raise ValueError("Matryoshka sizes need categorical features, and this model has none")
    for tokenizer in found:
        assert tokenizer.embedding is not None
        for k in sizes:
            tokenizer.embedding.check_prefix(k)


def prefix_bytes(model: nn.Module, k: int) -> int:
    """Bytes of ``model``'s ID tables keeping only the columns a ``k``-prefix reads."""
    total = 0
    for tokenizer in tokenizers(model):
        assert tokenizer.embedding is not None
        total += tokenizer.embedding.prefix_bytes(k)
    return total


@contextlib.contextmanager
def truncated(model: nn.Module, k: int | None) -> Iterator[nn.Module]:
    """Within the block, ``model``'s categorical embeddings keep their first ``k`` dims (the
    rest zeroed, gradients included); ``None`` leaves them whole. Restored on exit."""
    found = tokenizers(model)
    before = [t.prefix for t in found]
    if k is not None:
        check_prefixes(model, (k,))
    try:
        for t in found:
            t.prefix = k
        yield model
    finally:
        for t, prefix in zip(found, before, strict=True):
            t.prefix = prefix
