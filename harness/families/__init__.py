"""Model families: GBDT baselines and neural rankers, each a typed config plus ``fit``.

The registry that turns a family name into an object is ``harness.families.registry``; the
protocol every family implements is ``harness.families.base.Family``.
"""
