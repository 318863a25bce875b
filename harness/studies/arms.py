"""An arm merged into the study's base: a constant search space, checked, and its seeds.

The base configuration (`StudyBase`) as a config tree (`config_to_dict`) is merged with the
study's ``[all]`` table (when it has one), then with the arm's tree (`merge_tree`): the arm's
values replace the base's, key by key, except that an arm's table naming a ``kind`` (a part:
``[model.tokenizer.numeric] kind = "ple"``) replaces the base's table whole, so the part gets the
arm's settings and its defaults for the rest, never the settings of the base's part. The
result is a search space with no searched parameter (`space_from_mapping`), named after the
preset: its fingerprint identifies the base, ``[all]`` and the arm, so a trial already recorded
for one arm and seed is not run again while a changed base or arm runs anew (a study without
``[all]`` merges nothing there: its fingerprints are those it had before ``[all]`` existed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.results.table import TrialResult
from harness.studies.base import StudyBase
from harness.studies.files import Arm, StudyFile
from harness.studies.trees import merge_tree
from harness.tuning.space import SearchSpace, config_to_dict, space_from_mapping

__all__ = ["ArmPlan", "arm_space", "check_arm", "merge_tree", "pending_seeds"]


@dataclass(frozen=True)
class ArmPlan:
    """One arm of a study run: its space and the seeds it still needs.

    Attributes:
        study: the study file.
        arm: the arm.
        base: the study's base configuration.
        space: the base merged with the arm (no searched parameter), named after the preset.
        seeds: every seed the run asks for (``--seed`` + 0, 1, ...).
        pending: those not yet recorded for this space (interrupted trials do not count).
    """

    study: StudyFile
    arm: Arm
    base: StudyBase
    space: SearchSpace
    seeds: tuple[int, ...]
    pending: tuple[int, ...]


def arm_space(study: StudyFile, arm: Arm, base: StudyBase) -> SearchSpace:
    """The base merged with ``arm`` as a constant search space named after the preset.

    Raises:
        HarnessError: the merged config is invalid, naming the study file and the arm.
    """
    tree = merge_tree(merge_tree(config_to_dict(base.config), study.shared), arm.tree)
    where = f"{study.path}: arm {arm.name!r}"
    space = space_from_mapping(
        {"family": base.family, **tree}, name=base.preset, where=where, family=base.family
    )
    assert not space.params, "a base and an arm of constants give no searched parameter"
    return space


def check_arm(space: SearchSpace, validate: Callable[[Any], None], *, against: str) -> None:
    """Runs ``validate`` (the family's check against the dataset) on an arm's config.

    Raises:
        HarnessError: one line naming the study file, the arm and why the data rejects it.
    """
    try:
        validate(space.build_config({}))
    except ValueError as e:
        raise HarnessError(
            f"{space.path}: impossible for {against}: {' '.join(str(e).split())}"
        ) from None


def pending_seeds(
    rows: Sequence[TrialResult],
    *,
    dataset: str,
    study: str,
    arm: str,
    fingerprint: str,
    seeds: Sequence[int],
) -> tuple[int, ...]:
    """The seeds of ``seeds`` with no trial of this arm's space recorded on ``dataset``
    (complete, pruned or failed: an interrupted one is run again)."""
    done = {
        r.seed
        for r in rows
        if r.dataset == dataset
        and r.factor_study == study
        and r.arm == arm
        and r.space_fingerprint == fingerprint
        and r.status != "interrupted"
    }
    return tuple(s for s in seeds if s not in done)
