"""Starts ``harness dashboard`` in a subprocess and reads the studies its API lists."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listed_studies(args: list[str], *, timeout_s: float = 60.0) -> str:
    """The body of ``/api/studies`` of ``harness dashboard ARGS --port P`` (a free port),
    once the server answers; the server is stopped after.

    Raises:
        OSError: the server exited, or did not answer within ``timeout_s``.
    """
    port = free_port()
    command = [sys.executable, "-m", "harness.cli", "dashboard", *args, "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                url = f"http://127.0.0.1:{port}/api/studies"
                with urllib.request.urlopen(url, timeout=5) as response:
                    return str(response.read().decode())
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
