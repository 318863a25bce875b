"""harness: an AutoML and benchmarking harness for tabular CTR rankers.

`harness run --suite criteo` turns raw data into one typed feature schema, tunes GBDT baselines
and neural rankers under Ray Tune with Optuna, and writes a leaderboard.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
