"""A throwaway PostgreSQL server for tests: local binaries, a temporary data folder, 127.0.0.1.

``running_postgres()`` finds ``initdb``/``pg_ctl``/``postgres`` (on PATH or in
``/usr/lib/postgresql/*/bin``), creates a cluster with trust authentication in a temporary
folder, starts it on a free port of 127.0.0.1 only (its Unix socket in that folder too) and
stops it (``pg_ctl stop -m immediate``) and removes the folder at the end. PostgreSQL refuses to
run as root: as root, the server runs as the ``postgres`` user (created with ``useradd`` when
missing). Anything that prevents a server is `PostgresUnavailableError`, whose message is the one
line a skipped test shows.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "PostgresUnavailableError", "create_database", "running_postgres"]

_BINARIES = ("initdb", "pg_ctl", "postgres")
_USER = "postgres"


class PostgresUnavailableError(Exception):
    """No PostgreSQL server could be started here; the message says why, on one line."""


@dataclass(frozen=True)
class PostgresServer:
    """A running server: ``url`` reaches its ``postgres`` database as the ``postgres`` superuser
    (no password: trust authentication)."""

    url: str
    port: int
    data_dir: Path


def find_binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres (None: not installed)."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if all((folder / name).is_file() for name in _BINARIES):
            return folder
    return None


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Starts a server for the life of the ``with`` block (see the module docstring).

    Raises:
        PostgresUnavailableError: no binaries, no unprivileged user to run them as, or the server
            did not start.
    """
    binaries = find_binaries()
    if binaries is None:
        raise PostgresUnavailableError(
            "no PostgreSQL binaries (initdb, pg_ctl, postgres) on PATH or in "
            "/usr/lib/postgresql/*/bin: install Debian's postgresql package"
        )
    as_user = _unprivileged()
    root = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    data = root / "data"
    try:
        if as_user:
            entry = pwd.getpwnam(_USER)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        port = _free_port()
        _run(as_user, root, binaries / "initdb", "-D", str(data), "-A", "trust", "-U", "postgres")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        log = root / "server.log"
        try:
            _run(
                as_user, root, binaries / "pg_ctl", "-D", str(data), "-l", str(log), "-w",
                "-t", "60", "-o", options, "start",
            )  # fmt: skip
        except PostgresUnavailableError as e:
            raise PostgresUnavailableError(_why_not_started(log) or str(e)) from None
    except BaseException:
        _stop(as_user, root, binaries, data)  # pg_ctl may give up on a server that did start
        raise
    try:
        yield PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", port, data)
    finally:
        _stop(as_user, root, binaries, data)


def _stop(as_user: bool, root: Path, binaries: Path, data: Path) -> None:
    """Stops the server, if one runs (``-m immediate``: a test server has nothing to save), and
    removes its folder."""
    if (data / "postmaster.pid").exists():
        with contextlib.suppress(PostgresUnavailableError):
            _run(as_user, root, binaries / "pg_ctl", "-D", str(data), "-m", "immediate", "stop")
    shutil.rmtree(root, ignore_errors=True)


def create_database(server: PostgresServer, name: str) -> str:
    """Creates an empty database on the server; returns its URL (each test gets its own)."""
    import psycopg2

    connection = psycopg2.connect(server.url)
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
    return server.url.rsplit("/", 1)[0] + f"/{name}"


def _unprivileged() -> bool:
    """Whether the server must run as ``postgres`` (we are root); creates that user if missing."""
    if os.geteuid() != 0:
        return False
    try:
        pwd.getpwnam(_USER)
    except KeyError:
        command = ["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", _USER]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as e:
            raise PostgresUnavailableError(
                f"PostgreSQL refuses root and there is no {_USER!r} user to run it as "
                f"(useradd failed: {e})"
            ) from None
    if shutil.which("runuser") is None:
        raise PostgresUnavailableError("PostgreSQL refuses root and there is no runuser to drop it")
    return True


def _run(as_user: bool, cwd: Path, *command: str | Path) -> None:
    """Runs a PostgreSQL tool (as ``postgres`` when we are root), or raises its last line."""
    words = [str(w) for w in command]
    if as_user:
        words = ["runuser", "-u", _USER, "--", *words]
    try:
        done = subprocess.run(words, cwd=cwd, capture_output=True, text=True, timeout=90)
    except (OSError, subprocess.SubprocessError) as e:
        raise PostgresUnavailableError(f"{Path(str(command[0])).name}: {e}") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        name = Path(str(command[0])).name
        raise PostgresUnavailableError(
            f"{name} failed (exit {done.returncode}): {lines[-1] if lines else 'no output'}"
        )


def _why_not_started(log: Path) -> str:
    """The server log's last error line (``FATAL:  could not create ...``), if any."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    errors = [line for line in lines if "FATAL" in line or "ERROR" in line or "could not" in line]
    return f"the server did not start: {errors[-1].strip()}" if errors else ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
