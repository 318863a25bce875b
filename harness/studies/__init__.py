"""Factor studies: one factor of a neural model varied by named arms, everything else fixed.

``harness run --study NAME`` runs a study file (``search_spaces/studies/NAME.toml``): each arm is
a partial config tree merged into a base configuration (the best trial of a preset in the run
folder, or the preset's defaults), trained with several seeds as Ray trials, and summarised on
the leaderboard as mean ± std per arm. Not to be confused with Optuna's studies
(`harness.tuning.studies`), which hold a search's trials.

- `harness.studies.files`: loading and validating study files, where they are looked up;
- `harness.studies.base`: choosing the base configuration;
- `harness.studies.arms`: an arm merged into the base, as a constant search space, and the
  seeds it still needs (`harness.studies.trees`: the merge of config trees);
- `harness.study_pipeline` (beside `harness.pipeline`, above this package): ``harness run
  --study``, through the same tuner as a search.

This package sits below the pipeline and the leaderboard, which read study files; the command
that runs studies sits above them all.
"""

from harness.studies.arms import ArmPlan, arm_space, check_arm, merge_tree, pending_seeds
from harness.studies.base import StudyBase, choose_base, preset_defaults
from harness.studies.files import (
    Arm,
    StudyFile,
    available_studies,
    find_study,
    load_studies,
    load_study,
    study_dirs,
)

__all__ = [
    "Arm",
    "ArmPlan",
    "StudyBase",
    "StudyFile",
    "arm_space",
    "available_studies",
    "check_arm",
    "choose_base",
    "find_study",
    "load_studies",
    "load_study",
    "merge_tree",
    "pending_seeds",
    "preset_defaults",
    "study_dirs",
]
