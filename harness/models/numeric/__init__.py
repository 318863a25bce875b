"""Numeric encodings: ``(B, n_num)`` raw values (NaN where missing) to ``(B, n_num, d_out)``.

A new encoding is one module plus one line in ``NUMERIC_ENCODINGS``; the contract tests in
``tests/models/test_contracts.py`` then cover it.
"""

from harness.models.numeric.base import NumericEncoding
from harness.models.numeric.log1p import Log1p

__all__ = ["NUMERIC_ENCODINGS", "Log1p", "NumericEncoding"]

NUMERIC_ENCODINGS: dict[str, type[NumericEncoding]] = {
    "log1p": Log1p,
}
