"""The README's claims that code can check: its dataset table is the cards' own."""

from __future__ import annotations

from pathlib import Path

from harness.commands import datasets_markdown
from harness.data.card import card_names, load_card


def test_readme_dataset_table_is_generated_from_the_cards(repo_root: Path) -> None:
    text = (repo_root / "README.md").read_text()
    start = text.index("<!-- datasets: generated")
    start = text.index("\n", start) + 1
    end = text.index("<!-- /datasets -->")
    cards = [
        load_card(n, folder=repo_root / "datasets") for n in card_names(repo_root / "datasets")
    ]
    assert text[start:end].strip() == datasets_markdown(cards), (
        "the README's dataset table is stale: paste `harness data list --markdown` into it"
    )


def test_readme_names_each_suites_default_models(repo_root: Path) -> None:
    from harness.suites import SUITES

    text = " ".join((repo_root / "README.md").read_text().split())
    for suite in SUITES.values():
        assert f"`{', '.join(suite.models)}` on" in text, (
            f"the README does not list suite {suite.name}'s default models {suite.models}"
        )


def test_readme_study_example_is_a_valid_study_file(repo_root: Path, tmp_path: Path) -> None:
    from harness.studies.files import load_study

    text = (repo_root / "README.md").read_text()
    start = text.index('description = "How numeric features are encoded')
    path = tmp_path / "example.toml"
    path.write_text(text[start : text.index("```", start)])
    assert [a.name for a in load_study(path).arms] == ["log1p", "ple", "ple.32"]
