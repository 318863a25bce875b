"""The environment captured at the start of each invocation: filled here, cheap, never raising."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import harness
from harness import environment
from harness.environment import PACKAGES, Environment, capture, harness_commit

REPO = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_capture_fills_the_hardware_and_the_versions_on_this_machine() -> None:
    env = capture()
    assert env.cpu and env.cpu_count == os.cpu_count() and env.memory_gib > 0
    assert env.python == ".".join(map(str, sys.version_info[:3]))
    assert env.harness == harness.__version__
    assert [name for name, _ in env.packages] == list(PACKAGES)
    for name, version in env.packages:
        try:
            assert version == metadata.version(name)
        except metadata.PackageNotFoundError:
            assert version == ""
    assert env.version("torch") == metadata.version("torch")
    assert env.version("not-a-package") == ""


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_commit_is_the_checkouts_head_and_says_dirty() -> None:
    if not (REPO / ".git").exists():
        pytest.skip("the tests do not run from a git checkout")
    commit = harness_commit()
    assert commit.removesuffix("-dirty") == _git("rev-parse", "--short", "HEAD")
    changes = _git("status", "--porcelain", "--untracked-files=no").splitlines()
    dirty = any(not line[3:].startswith("leaderboards/") for line in changes)
    assert commit.endswith("-dirty") == dirty


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_rewritten_board_is_not_a_dirty_checkout(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    (tmp_path / "pkg").mkdir()
    (tmp_path / "leaderboards").mkdir()
    (tmp_path / "pkg" / "code.py").write_text("x = 1\n")
    (tmp_path / "leaderboards" / "criteo.md").write_text("# board\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    head = harness_commit(tmp_path / "pkg")
    assert head and not head.endswith("-dirty")
    (tmp_path / "leaderboards" / "criteo.md").write_text("# board, rewritten by a run\n")
    assert harness_commit(tmp_path / "pkg") == head
    (tmp_path / "pkg" / "code.py").write_text("x = 2\n")
    assert harness_commit(tmp_path / "pkg") == f"{head}-dirty"


def test_no_commit_outside_a_checkout_or_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert harness_commit(tmp_path) == ""
    # A copy inside a checkout that does not track it (an installed package in a .venv).
    if (REPO / ".git").exists() and shutil.which("git"):
        assert harness_commit(REPO / ".venv") == ""
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on the path
    assert harness_commit() == ""
    assert capture().commit == ""


def test_header_texts() -> None:
    env = Environment(
        cpu="AMD EPYC 9654",
        cpu_count=16,
        memory_gib=125.7,
        gpus=("NVIDIA H200", "NVIDIA H200"),
        system="Linux 6.8.0 x86_64",
        python="3.11.9",
        packages=(("torch", "2.13.0"), ("catboost", "")),
        harness="0.1.0",
        commit="abc1234-dirty",
    )
    assert env.hardware_text == (
        "AMD EPYC 9654, 16 logical cores, 126 GiB memory, GPU: 2 × NVIDIA H200"
    )
    assert env.software_text == (
        "harness 0.1.0 (commit abc1234-dirty), Python 3.11.9 on Linux 6.8.0 x86_64; "
        "torch 2.13.0, catboost not installed"
    )
    small = dataclasses.replace(env, memory_gib=23.5, gpus=(), commit="")
    assert small.hardware_text.endswith("23.5 GiB memory, GPU: none")
    assert "(commit" not in small.software_text
    assert Environment().hardware_text == "unknown CPU, ? logical cores, 0.0 GiB memory, GPU: none"


def test_gpus_come_from_nvidia_smi_within_cuda_visible_devices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listed = [("0", "GPU-aaaa", "NVIDIA H200"), ("1", "GPU-bbbb", "NVIDIA H100 80GB HBM3")]
    monkeypatch.setattr(environment, "_nvidia_smi", lambda: listed)
    for visible, expected in [
        (None, ("NVIDIA H200", "NVIDIA H100 80GB HBM3")),
        ("1", ("NVIDIA H100 80GB HBM3",)),
        ("GPU-bb,0", ("NVIDIA H100 80GB HBM3", "NVIDIA H200")),
        ("0,7,1", ("NVIDIA H200",)),  # CUDA stops at the first id it cannot place
        ("", ()),
        ("-1", ()),
        ("MIG-1234", ("NVIDIA H200", "NVIDIA H100 80GB HBM3")),
    ]:
        if visible is None:
            monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        else:
            monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
        assert environment._gpus() == expected, visible


def test_without_nvidia_smi_torch_is_asked_only_when_already_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(environment, "_nvidia_smi", lambda: None)

    class Cuda:
        @staticmethod
        def is_available() -> bool:
            return True

        @staticmethod
        def device_count() -> int:
            return 2

        @staticmethod
        def get_device_name(i: int) -> str:
            return f"Fake GPU {i}"

    class Torch:
        cuda = Cuda

    monkeypatch.setitem(sys.modules, "torch", Torch)
    assert environment._gpus() == ("Fake GPU 0", "Fake GPU 1")
    monkeypatch.delitem(sys.modules, "torch")
    assert environment._gpus() == ()


def test_environment_validates_and_reads_back_its_json() -> None:
    env = capture()
    assert Environment.from_json(dataclasses.asdict(env)) == env
    assert Environment.from_json({"cpu": "x", "added_later": 1}) == Environment(cpu="x")
    with pytest.raises(ValueError, match="cpu_count"):
        Environment(cpu_count=-1)
    with pytest.raises(ValueError, match="packages"):
        Environment.from_json({"packages": [["torch"]]})
