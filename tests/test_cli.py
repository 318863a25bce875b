"""The command line as a user meets it: names, one-line errors, nothing lost on bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {err!r}"
    assert "Traceback" not in err
    return lines[0]


def test_suites_lists_suites_models_and_parts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps and cuts cells to the terminal's width
    code, out, _ = _run(capsys, "suites")
    assert code == 0
    models = ("lightgbm", "catboost", "dcnv2", "deepfm", "dlrm", "autoint", "hiformer", "fm")
    for word in ("criteo", *models, "learning_rate", "interaction.cross.layers"):
        assert word in out
    # Every registered part is listed with its slot.
    from harness.models import BACKBONES, HEADS, INTERACTIONS

    for registry in (INTERACTIONS, BACKBONES, HEADS):
        for kind, config in registry.items():
            assert kind in out and config.summary[:20] in out


def test_unknown_suite_names_the_valid_ones(
    capsys: pytest.CaptureFixture[str], harness_home: Path
) -> None:
    code, _, err = _run(capsys, "run", "--suite", "critoe")
    assert code == 2
    assert "unknown suite 'critoe'; valid suites: adult, avazu, criteo" in _one_line_error(err)


def test_unknown_model_names_the_valid_ones(
    capsys: pytest.CaptureFixture[str], harness_home: Path
) -> None:
    code, _, err = _run(capsys, "run", "--suite", "criteo", "--models", "lightgbm,xgboost")
    assert code == 2
    line = _one_line_error(err)
    assert "no model 'xgboost'" in line
    assert "catboost, dcnv2, deepfm" in line


def test_missing_data_path_is_one_line(
    capsys: pytest.CaptureFixture[str], harness_home: Path, tmp_path: Path
) -> None:
    code, _, err = _run(capsys, "run", "--suite", "criteo", "--data", str(tmp_path / "nope.txt"))
    assert code == 2
    assert "nope.txt: no such file or folder" in _one_line_error(err)


def test_invalid_search_space_fails_before_any_data_is_read(
    capsys: pytest.CaptureFixture[str], harness_home: Path, tmp_path: Path, repo_root: Path
) -> None:
    spaces = tmp_path / "spaces"
    shutil.copytree(repo_root / "search_spaces", spaces)
    toml = spaces / "lightgbm.toml"
    toml.write_text(toml.read_text().replace("\nnum_leaves = ", "\nnum_leavs = "))
    code, _, err = _run(
        capsys, "run", "--suite", "criteo", "--search-spaces", str(spaces), "--out", str(tmp_path)
    )
    assert code == 2
    line = _one_line_error(err)
    assert "lightgbm.toml" in line and "num_leavs" in line and "num_leaves" in line
    assert not harness_home.exists(), "nothing may be generated or cached before the spaces pass"


def test_malformed_row_names_file_and_line(
    capsys: pytest.CaptureFixture[str], harness_home: Path, tmp_path: Path
) -> None:
    good = "0\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13\t" + "\t".join(["68fd1e64"] * 26)
    bad = good.replace("\t5\t", "\tfive\t", 1)
    data = tmp_path / "train.txt"
    data.write_text("\n".join([good, good, bad, good]) + "\n")
    code, _, err = _run(capsys, "run", "--suite", "criteo", "--data", str(data), "--quiet")
    assert code == 2
    line = _one_line_error(err)
    assert "train.txt" in line and "line 3" in line and "five" in line


def test_dashboard_without_studies_says_what_to_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(capsys, "dashboard", "--suite", "criteo", "--out", str(tmp_path))
    assert code == 2
    assert "harness run --suite criteo" in _one_line_error(err)
    # A run on one's own card is found by its dataset name; a typo lists what is there.
    (tmp_path / "runs" / "shop-synthetic").mkdir(parents=True)
    (tmp_path / "runs" / "shop-synthetic" / "studies.sqlite3").write_bytes(b"")
    code, _, err = _run(capsys, "dashboard", "--suite", "shop", "--out", str(tmp_path))
    assert code == 2
    assert "shop-synthetic/studies.sqlite3: add --synthetic" in _one_line_error(err)
    code, _, err = _run(capsys, "dashboard", "--suite", "shpo", "--out", str(tmp_path))
    assert code == 2
    line = _one_line_error(err)
    assert "'shpo' is no suite (adult, avazu, criteo" in line
    assert line.endswith("runs: shop-synthetic)")


def test_bad_option_value_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--suite", "criteo", "--trials", "0"])
    assert exit_info.value.code == 2
    assert "--trials: expected at least 1, got 0" in capsys.readouterr().err


def test_a_space_impossible_for_the_schema_fails_before_any_trial(
    capsys: pytest.CaptureFixture[str], harness_home: Path, tmp_path: Path, repo_root: Path
) -> None:
    spaces = tmp_path / "spaces"
    shutil.copytree(repo_root / "search_spaces", spaces)
    toml = spaces / "dcnv2.toml"
    toml.write_text(toml.read_text().replace("[0, 32, 64, 128]", "[0, 32, 64, 100000]"))
    argv = [
        "run",
        "--suite",
        "criteo",
        "--models",
        "lightgbm,dcnv2",
        "--synthetic-rows",
        "3000",
        "--quiet",
    ]
    code, _, err = _run(capsys, *argv, "--search-spaces", str(spaces), "--out", str(tmp_path))
    assert code == 2
    line = _one_line_error(err)
    assert "dcnv2.toml" in line and "model.interaction.cross.rank = 100000" in line
    assert "impossible for criteo (synthetic)" in line and "rank=100000" in line
    run = tmp_path / "runs" / "criteo-synthetic"
    assert not run.exists(), "no trial may run before every space fits the data"


def test_error_text_in_brackets_is_shown_whole(
    capsys: pytest.CaptureFixture[str], harness_home: Path, tmp_path: Path
) -> None:
    spaces = tmp_path / "spaces"
    spaces.mkdir()
    (spaces / "old.toml").write_text('family = "lightgbm"\n[search]\nnum_leaves = [7, 63]\n')
    code, _, err = _run(capsys, "run", "--suite", "criteo", "--models", "old",
                        "--search-spaces", str(spaces))  # fmt: skip
    assert code == 2
    line = _one_line_error(err)
    assert "[search] and [fixed] tables are the old format" in line


def test_empty_models_list_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "run", "--suite", "criteo", "--models", ",")
    assert code == 2
    line = _one_line_error(err)
    assert "--models is empty; valid: " in line and "lightgbm" in line


def test_unwritable_out_is_one_line_before_any_work(
    capsys: pytest.CaptureFixture[str], harness_home: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = _run(capsys, "run", "--suite", "criteo", "--out", str(blocker / "out"))
    assert code == 2
    line = _one_line_error(err)
    assert "cannot write to" in line and "--out" in line
    assert not harness_home.exists(), "nothing may be generated before the output is checked"


def test_busy_dashboard_port_suggests_another(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import socket

    (tmp_path / "runs" / "criteo").mkdir(parents=True)
    (tmp_path / "runs" / "criteo" / "studies.sqlite3").write_bytes(b"")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = _run(
            capsys, "dashboard", "--suite", "criteo", "--out", str(tmp_path), "--port", str(port)
        )
    assert code == 2
    line = _one_line_error(err)
    assert f"cannot listen on 127.0.0.1:{port}" in line and f"--port {port + 1}" in line


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("--study", "hashing", "--seeds", "0"), "--seeds 0: a study needs at least one seed"),
        (("--study", "hashing", "--trials", "2"), "--trials is for a search"),
        (("--study", " , "), "--study is empty; studies: compression, embedding-sizes"),
        (("--study", "hashin"), "no study 'hashin'"),
        (
            ("--study", "hashing", "--models", "dcnv2,deepfm"),
            "--study varies one neural model: give one with --models, got 2 (dcnv2, deepfm)",
        ),
        (
            ("--study", "hashing", "--models", "lightgbm"),
            "--models lightgbm: a study varies the parts of a neural ranker",
        ),
    ],
    ids=["no-seed", "trials", "empty", "unknown", "two-models", "gbdt"],
)
def test_study_mistakes_are_one_line_before_any_data(
    capsys: pytest.CaptureFixture[str],
    harness_home: Path,
    tmp_path: Path,
    argv: tuple[str, ...],
    expected: str,
) -> None:
    code, _, err = _run(capsys, "run", "--suite", "criteo", "--out", str(tmp_path), *argv)
    assert code == 2
    line = _one_line_error(err)
    assert expected in line
    if "hashin'" in expected:
        assert "did you mean 'hashing'?" in line and "numeric-encodings" in line
    assert not (harness_home / "downloads").exists()  # nothing was read or written


def test_suites_lists_the_studies(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    code, out, _ = _run(capsys, "suites")
    assert code == 0
    assert "Factor studies" in out
    for word in ("numeric-encodings", "embedding-sizes", "hashing", "model.tokenizer.numeric"):
        assert word in out
