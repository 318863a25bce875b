"""``ContentConfig``: what a trial does with the dataset's dense vector features (``x_vec``).

Every family's config has a ``content`` table, so a search-space or study file can drop the
vectors, keep them, or compress them::

    [content]
    use = true                 # false: the trial sees no vector feature (the no-text baseline)
    size = 32                  # the width served to the model; 0: the compressor's own size
    [content.compressor]
    kind = "pca"               # none, pca, svd, random, autoencoder, matryoshka (COMPRESSORS)
    [content.compressor.matryoshka]
    size = 128                 # a Matryoshka projection is fitted once at its full size and
    prefixes = [128, 64, 32, 16, 8]   # served cut to ``content.size``, one of its prefixes

The compressor is fitted on the training split's vectors only (at most ``fit_rows`` of them) and
applied to every split (`harness.content.prepare`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from harness.content.compressors import CompressorConfig, FullSizeConfig
from harness.content.compressors.matryoshka import MatryoshkaConfig
from harness.data.schema import FeatureSchema

__all__ = ["ContentConfig"]


@dataclass(frozen=True)
class ContentConfig:
    """How a trial uses the dense vector features.

    Attributes:
        use: False drops every vector feature (the baseline that shows what they add).
        size: the width each vector feature is served at; 0 keeps the compressor's ``size``
            (every vector's full width for ``none``). For ``matryoshka`` it must be one of the
            fitted prefixes; for the others the compressor is fitted at this size.
        compressor: the compressor (``COMPRESSORS``); ``none`` serves the vectors as they are.
        fit_rows: the compressor is fitted on at most this many training rows (a seeded
            sample), so a large dataset is not held in memory for it.
    """

    use: bool = True
    size: int = 0
    compressor: CompressorConfig = field(default_factory=FullSizeConfig)
    fit_rows: int = 200_000

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"size must be 0 (the compressor's) or positive, got {self.size!r}")
        if not isinstance(self.compressor, CompressorConfig):
            raise ValueError(f"compressor must be a CompressorConfig, got {self.compressor!r}")
        if self.fit_rows < 2:
            raise ValueError(f"fit_rows must be at least 2, got {self.fit_rows=}")
        m = self.compressor
        if isinstance(m, MatryoshkaConfig) and self.size and self.size not in self.served_sizes(m):
            raise ValueError(
                f"size={self.size} is not a prefix the Matryoshka projection is trained for; "
                f"valid: {', '.join(map(str, self.served_sizes(m)))}"
            )

    @staticmethod
    def served_sizes(compressor: MatryoshkaConfig) -> tuple[int, ...]:
        """The sizes a Matryoshka projection can be served at: its prefixes up to its size."""
        return tuple(
            sorted({p for p in compressor.prefixes if p <= compressor.size} | {compressor.size})
        )

    @property
    def compresses(self) -> bool:
        """Whether the vectors are changed at all (used and not served as they are)."""
        return self.use and not isinstance(self.compressor, FullSizeConfig)

    @property
    def fitted(self) -> CompressorConfig:
        """The compressor as it is fitted: at ``size`` unless it is served by prefix."""
        if not self.size or isinstance(self.compressor, (FullSizeConfig, MatryoshkaConfig)):
            return self.compressor
        return dataclasses.replace(self.compressor, size=self.size)

    @property
    def served(self) -> int:
        """The width served per vector feature (0: the fitted compressor's own, or full)."""
        if isinstance(self.compressor, FullSizeConfig):
            return 0
        return self.size or self.compressor.size

    def schema_of(self, schema: FeatureSchema) -> FeatureSchema:
        """The schema a trial's model sees (vector widths as served), without fitting anything:
        what validating a configuration needs.

        Raises:
            ValueError: this cannot apply to ``schema`` (`check`).
        """
        self.check(schema)
        if not self.use:
            return dataclasses.replace(schema, vectors=())
        if not self.compresses:
            return schema
        served = tuple(dataclasses.replace(v, width=self.served) for v in schema.vectors)
        return dataclasses.replace(schema, vectors=served)

    def check(self, schema: FeatureSchema) -> None:
        """Raises ValueError when this cannot apply to ``schema``'s vector features.

        A compressor needs vector features, and a served size above a vector's width is
        impossible.
        """
        if not self.compresses:
            return
        if not schema.vectors:
            raise ValueError(
                f"content.compressor.kind = {self.compressor.kind!r} but the dataset has no "
                "vector features (text or vector columns in its card, as the reviews suite's has); "
                "use kind = 'none', or a dataset with them"
            )
        for vector in schema.vectors:
            if max(self.served, self.fitted.size) > vector.width:
                raise ValueError(
                    f"content: size {max(self.served, self.fitted.size)} exceeds the width of "
                    f"vector feature {vector.name!r} ({vector.width})"
                )
