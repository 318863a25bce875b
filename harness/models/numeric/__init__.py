"""Numeric encodings: ``(B, n_num)`` raw values (NaN where missing) to ``(B, n_num, d_out)``.

A new encoding is one module (a `NumericEncodingConfig` subclass and its module) plus one
``NUMERIC_ENCODINGS.register`` line; the contract tests in ``tests/models/`` then cover it.
"""

from harness.models.numeric.base import NumericEncoding, NumericEncodingConfig
from harness.models.numeric.log1p import Log1p, Log1pConfig
from harness.registry import Registry

__all__ = ["NUMERIC_ENCODINGS", "Log1p", "Log1pConfig", "NumericEncoding", "NumericEncodingConfig"]

NUMERIC_ENCODINGS: Registry[NumericEncodingConfig] = Registry(
    "numeric encoding", NumericEncodingConfig
)
NUMERIC_ENCODINGS.register(
    "log1p", Log1pConfig, "sign(x) log(1 + |x|), missing as 0 plus a missing flag"
)
