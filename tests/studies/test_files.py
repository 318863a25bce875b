"""Study files: the shipped ones load; a mistake is one line naming the file, arm and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.paths import shipped_folder
from harness.studies.files import available_studies, load_studies, load_study, study_dirs

SHIPPED = shipped_folder("search_spaces") / "studies"

GOOD = """
description = "missing flags on or off"
factor = "model.tokenizer.numeric"

[arms.flag.model.tokenizer.numeric]
kind = "log1p"
[arms.flag.model.tokenizer.numeric.log1p]
missing_indicator = true

[arms.no-flag.model.tokenizer.numeric.log1p]
missing_indicator = false
"""


# GOOD with what every arm shares and learning curves on the leaderboard.
SHARED = GOOD.replace(
    'factor = "model.tokenizer.numeric"',
    'factor = "model.tokenizer.numeric"\ncurves = true\n\n'
    "[all.train]\nmax_epochs = 2\nevals_per_epoch = 3\n",
)


def _write(tmp_path: Path, text: str, name: str = "mine") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(HarnessError) as e:
        load_study(_write(tmp_path, text))
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path / "mine.toml"))
    return message


def test_a_study_file_loads_with_its_arms_in_file_order(tmp_path: Path) -> None:
    study = load_study(_write(tmp_path, GOOD))
    assert (study.name, study.description) == ("mine", "missing flags on or off")
    assert study.factor == ("model.tokenizer.numeric",)
    assert [a.name for a in study.arms] == ["flag", "no-flag"]
    assert study.arms[0].settings == (
        'model.tokenizer.numeric.kind = "log1p"',
        "model.tokenizer.numeric.log1p.missing_indicator = true",
    )
    with pytest.raises(TypeError):
        study.arms[0].tree["model"] = {}  # type: ignore[index]  # read-only


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_study_loads_against_the_registered_parts(path: Path) -> None:
    study = load_study(path)
    assert study.description and study.factor and len(study.arms) >= 2


def test_the_studies_of_the_issues_are_shipped() -> None:
    shipped = set(available_studies([SHIPPED]))
    assert {"numeric-encodings", "embedding-sizes", "hashing", "one-epoch"} <= shipped


def test_all_and_curves_are_read_and_what_all_sets_is_listed(tmp_path: Path) -> None:
    text = SHARED + '[all.model.interaction]\nkind = "none"\n'
    study = load_study(_write(tmp_path, text))
    assert study.curves is True
    assert study.shared_settings == (
        "train.max_epochs = 2",
        "train.evals_per_epoch = 3",
        'model.interaction.kind = "none"',
    )
    assert study.shared["train"]["max_epochs"] == 2
    with pytest.raises(TypeError):
        study.shared["train"] = {}  # type: ignore[index]  # read-only
    plain = load_study(_write(tmp_path, GOOD, "plain"))  # a file without them, as before
    assert (plain.curves, dict(plain.shared), plain.shared_settings) == (False, {}, ())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("missing_indicator = false", "missing_indicatr = false"),
            "arm 'no-flag': model.tokenizer.numeric.log1p.missing_indicatr: unknown parameter "
            "in [model.tokenizer.numeric.log1p]; did you mean 'missing_indicator'?",
        ),
        (
            GOOD.replace('kind = "log1p"', 'kind = "log2p"'),
            "arm 'flag': model.tokenizer.numeric.kind: unknown numeric encoding 'log2p'; "
            "did you mean 'log1p'?",
        ),
        (
            GOOD.replace("missing_indicator = false", "missing_indicator = { choice = [true] }"),
            "arm 'no-flag': model.tokenizer.numeric.log1p.missing_indicator: an arm holds "
            "constants only",
        ),
        (
            GOOD + "[arms.wide.model.tokenizer]\nembedding_dim = 32\n",
            "arm 'wide': model.tokenizer.embedding_dim: outside the study's factor "
            "(model.tokenizer.numeric)",
        ),
        (
            GOOD + "[arms.lr.train]\nlearning_rate = 0.1\n",
            "arm 'lr': train.learning_rate: outside the study's factor",
        ),
        (
            GOOD + '[arms.fam]\nfamily = "lightgbm"\n',
            "arm 'fam': family: an arm sets config keys only",
        ),
        (GOOD.replace("factor =", "factors ="), "factors: unknown key; did you mean 'factor'?"),
        (
            GOOD.replace('factor = "model.tokenizer.numeric"', ""),
            "factor: missing; the dotted key the arms vary",
        ),
        (
            GOOD.replace('factor = "model.tokenizer.numeric"', 'factor = ["model tokenizer"]'),
            "factor: 'model tokenizer' is not a dotted key",
        ),
        ('description = "x"\nfactor = "model"\n', "arms: missing or empty"),
        ('factor = "model"\n[arms]\nx = 1\n', "arm 'x': must be a table"),
        (GOOD + "[arms.x\n", "not valid TOML"),
        (
            SHARED.replace("max_epochs = 2", "max_epoch = 2"),
            "[all]: train.max_epoch: unknown parameter in [train]; did you mean 'max_epochs'?",
        ),
        (
            SHARED.replace("max_epochs = 2", "max_epochs = { int = [1, 4] }"),
            "[all]: train.max_epochs: [all] holds constants only",
        ),
        (
            SHARED.replace("max_epochs = 2", "max_epochs = 0"),
            "[all]: train: TrainConfig.max_epochs must be a positive integer, got 0",
        ),
        (
            SHARED + '[all.model.tokenizer.numeric]\nkind = "ple"\n',
            "[all]: model.tokenizer.numeric.kind: inside the study's factor "
            "(model.tokenizer.numeric); [all] holds what every arm shares",
        ),
        (SHARED + '[all]\nfamily = "lightgbm"\n', "[all]: family: [all] sets config keys only"),
        (
            GOOD.replace("[arms.flag.", "all = 3\n[arms.flag.", 1),
            "[all]: must be a table ([all.train] ...), got 3",
        ),
        (SHARED.replace("curves = true", 'curves = "yes"'), "curves: must be true or false"),
        (
            SHARED + "[arms.flag.train]\nmax_epochs = 3\n",
            "arm 'flag': train.max_epochs: outside the study's factor",
        ),
    ],
    ids=[
        "unknown-key",
        "unknown-kind",
        "searched-value",
        "outside-factor",
        "train-outside-factor",
        "family",
        "top-level-typo",
        "no-factor",
        "bad-factor",
        "no-arms",
        "arm-not-a-table",
        "bad-toml",
        "all-unknown-key",
        "all-searched-value",
        "all-invalid-value",
        "all-inside-factor",
        "all-family",
        "all-not-a-table",
        "curves-not-a-bool",
        "arm-sets-what-all-sets",
    ],
)
def test_mistakes_are_one_line_naming_the_arm_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in _error(tmp_path, text)


def test_unknown_study_names_the_valid_ones(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "numeric-flags")
    with pytest.raises(HarnessError) as e:
        load_studies(["numeric-flag"], [tmp_path, SHIPPED])
    message = str(e.value)
    assert "no study 'numeric-flag'" in message and "did you mean 'numeric-flags'?" in message
    assert "hashing, matryoshka-ids, numeric-encodings, numeric-flags, one-epoch" in message


def test_studies_are_looked_up_beside_the_search_spaces_first(tmp_path: Path) -> None:
    (tmp_path / "studies").mkdir()
    _write(tmp_path / "studies", GOOD, "hashing")  # takes the shipped name
    folders = study_dirs(tmp_path)
    assert folders[0] == tmp_path / "studies" and folders[-1] == SHIPPED
    (study,) = load_studies(["hashing"], folders)
    assert study.path == str(tmp_path / "studies" / "hashing.toml")
