"""The base configuration of a study: the suite's best neural trial, or a preset's defaults.

A study varies one factor of one configuration. That configuration is the best complete trial
(by validation AUC) of the preset in the run folder's results table, rebuilt from the trial's
resolved config (`TrialResult.config`); the preset is the one named with ``--models``, else the
best neural model of the table. With no such trial (no search yet), it is the preset's defaults
(`SearchSpace.defaults`): ``--models``'s, else ``dcnv2``'s. Trials of earlier studies are never
a base.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.results.table import TrialResult, is_search_trial
from harness.tuning.space import SearchSpace, space_from_mapping

__all__ = ["DEFAULT_PRESET", "StudyBase", "choose_base", "preset_defaults"]

# The preset a study runs on when neither --models nor a search in the folder names one.
DEFAULT_PRESET = "dcnv2"


@dataclass(frozen=True)
class StudyBase:
    """The configuration a study's arms each change one factor of.

    Attributes:
        preset: the model (search-space file) it is a configuration of; the study's rows carry
            it as their ``model``.
        family: the preset's family.
        config: the typed family config (every value fixed).
        source: where it came from, one line (the console, the leaderboard and every row's
            ``base_source`` say it).
    """

    preset: str
    family: str
    config: Any
    source: str


def preset_defaults(space: SearchSpace, why: str) -> StudyBase:
    """The preset's defaults as a base: its file's constants, each searched value at its
    config's default (a searched ``kind`` at its first choice); ``why`` says why they are used.

    Raises:
        HarnessError: the defaults are not a valid config (naming the file).
    """
    try:
        config = space.defaults()
    except ValueError as e:
        raise HarnessError(f"{e} (the defaults of {space.name}, a study's base)") from None
    return StudyBase(
        preset=space.name,
        family=space.family,
        config=config,
        source=(
            f"{space.name}'s defaults ({space.name}@{space.fingerprint[:8]}: the file's "
            f"constants, each searched value at its config's default): {why}"
        ),
    )


def choose_base(
    rows: Sequence[TrialResult],
    *,
    dataset: str,
    neural_families: Collection[str],
    preset: SearchSpace | None,
    load_preset: Callable[[str], SearchSpace],
    results: str = "the results table",
) -> StudyBase:
    """The base of a study run on ``dataset`` (see the module docstring).

    Args:
        rows: the run folder's results table.
        dataset: the ``dataset`` column of this run's data (other data's trials do not count).
        neural_families: names of the families whose models a study can vary.
        preset: the model named with ``--models`` (None: the best neural model of the table).
        load_preset: the search space of a model by name (for ``DEFAULT_PRESET``).
        results: the table's path, for messages.

    Raises:
        HarnessError: the chosen trial's config no longer builds (naming the table and trial).
    """
    candidates = [
        r
        for r in rows
        if r.dataset == dataset
        and is_search_trial(r)
        and r.status == "complete"
        and r.valid_auc is not None
        and r.family in neural_families
        and r.config_dict
        and (preset is None or r.model == preset.name)
    ]
    best = max(candidates, key=lambda r: r.valid_auc or 0.0, default=None)
    if best is None:
        if preset is not None:
            return preset_defaults(
                preset, f"no complete {preset.name} trial in this run folder yet"
            )
        return preset_defaults(
            load_preset(DEFAULT_PRESET), "no complete neural trial in this run folder yet"
        )
    return _of_row(best, results)


def _of_row(row: TrialResult, results: str) -> StudyBase:
    where = f"{results}: trial {row.trial_id} ({row.model})"
    tree: dict[str, Any] = {"family": row.family, **json.loads(row.config)}
    space = space_from_mapping(tree, name=row.model, where=where, family=row.family)
    try:
        config = space.build_config({})
    except ValueError as e:
        raise HarnessError(f"{where}: its config does not build: {e}") from None
    assert row.valid_auc is not None
    return StudyBase(
        preset=row.model,
        family=row.family,
        config=config,
        source=(
            f"the best {row.model} trial by validation AUC in this run folder "
            f"({row.valid_auc:.4f}; trial {row.study_trial} of {row.study}, seed {row.seed})"
        ),
    )
