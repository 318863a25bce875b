"""Numeric encodings: ``(B, n_num)`` raw values (NaN where missing) to ``(B, n_num, d_out)``.

A new encoding is one module (a `NumericEncodingConfig` subclass and its module) plus one
``NUMERIC_ENCODINGS.register`` line; the contract tests in ``tests/models/`` then cover it.
Every encoding is fitted from the training statistics stored with the schema (`knots`), offers
``missing_indicator`` and represents a missing value as `missing` describes.
"""

from harness.models.numeric.base import NumericEncoding, NumericEncodingConfig
from harness.models.numeric.cdf import CDF, CDFConfig
from harness.models.numeric.log1p import Log1p, Log1pConfig
from harness.models.numeric.periodic import Periodic, PeriodicConfig
from harness.models.numeric.ple import PiecewiseLinear, PLEConfig
from harness.models.numeric.quantize import Quantize, QuantizeConfig
from harness.models.numeric.sigmoid import Sigmoid, SigmoidConfig
from harness.models.numeric.split import Split, SplitConfig
from harness.models.numeric.standard import Standard, StandardConfig
from harness.registry import Registry

__all__ = [
    "CDF",
    "NUMERIC_ENCODINGS",
    "CDFConfig",
    "Log1p",
    "Log1pConfig",
    "NumericEncoding",
    "NumericEncodingConfig",
    "PLEConfig",
    "Periodic",
    "PeriodicConfig",
    "PiecewiseLinear",
    "Quantize",
    "QuantizeConfig",
    "Sigmoid",
    "SigmoidConfig",
    "Split",
    "SplitConfig",
    "Standard",
    "StandardConfig",
]

NUMERIC_ENCODINGS: Registry[NumericEncodingConfig] = Registry(
    "numeric encoding", NumericEncodingConfig
)
NUMERIC_ENCODINGS.register(
    "log1p", Log1pConfig, "sign(x) log(1 + |x|), standardised; missing flagged"
)
NUMERIC_ENCODINGS.register(
    "standard", StandardConfig, "clipped at train quantiles, standardised; missing flagged"
)
NUMERIC_ENCODINGS.register(
    "sigmoid", SigmoidConfig, "soft thresholds sigmoid(a z + b) spread over the quantiles"
)
NUMERIC_ENCODINGS.register("cdf", CDFConfig, "the training empirical CDF, uniform on [0, 1]")
NUMERIC_ENCODINGS.register(
    "periodic", PeriodicConfig, "PLR: sin/cos of learned frequencies, linear, ReLU"
)
NUMERIC_ENCODINGS.register("quantize", QuantizeConfig, "quantile bin ids, a learned vector per bin")
NUMERIC_ENCODINGS.register("ple", PLEConfig, "piecewise-linear encoding over quantile or tree bins")
NUMERIC_ENCODINGS.register(
    "split", SplitConfig, "named features through one encoding, the others through another"
)
