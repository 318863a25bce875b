"""`harness dashboard` serves optuna-dashboard over a suite's studies on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dashboard_serves_the_suites_studies(tmp_path: Path) -> None:
    studies = tmp_path / "runs" / "criteo-synthetic" / "studies.sqlite3"
    studies.parent.mkdir(parents=True)
    study = optuna.create_study(
        study_name="criteo-synthetic/lightgbm", storage=f"sqlite:///{studies}", direction="maximize"
    )
    study.optimize(lambda t: t.suggest_float("learning_rate", 0.01, 0.3), n_trials=2)
    port = _free_port()
    command = [sys.executable, "-m", "harness.cli", "dashboard", "--suite", "criteo"]
    command += ["--synthetic", "--out", str(tmp_path), "--port", str(port)]
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ}
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                url = f"http://127.0.0.1:{port}/api/studies"
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = response.read().decode()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert "criteo-synthetic/lightgbm" in body
    finally:
        server.terminate()
        server.wait(timeout=30)
