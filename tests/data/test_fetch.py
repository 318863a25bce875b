"""`harness data fetch`: progress, resume over HTTP Range, checksum, extraction.

Runs against an HTTP server on 127.0.0.1 that this test starts and stops.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.data.fetch import Download, download, extract_member, fetch_dataset
from harness.errors import HarnessError

ROWS = b"".join(
    b"1\t5\t-1\t\t3" + b"\t" * 9 + b"\t".join(b"%08x" % (i * 7919 + j) for j in range(26)) + b"\n"
    for i in range(200)
)


def _tarball() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, payload in (("readme.txt", b"criteo-like\n"), ("train.txt", ROWS)):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


class _Server:
    """Serves one payload; honours Range unless told not to; records the Range headers seen."""

    def __init__(self, payload: bytes, *, honour_range: bool = True) -> None:
        self.payload = payload
        self.honour_range = honour_range
        self.ranges: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/file.tar.gz":
                    self.send_error(404)
                    return
                rng = self.headers.get("Range")
                outer.ranges.append(rng)
                start = 0
                if rng and outer.honour_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header(
                        "Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}"
                    )
                else:
                    self.send_response(200)
                body = payload[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/file.tar.gz"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def payload() -> bytes:
    return _tarball()


@pytest.fixture
def server(payload: bytes) -> Iterator[_Server]:
    with _Server(payload) as s:
        yield s


def test_download_writes_file_and_records_checksum(
    tmp_path: Path, server: _Server, payload: bytes
) -> None:
    dest = download(server.url, tmp_path / "a.tar.gz", progress=False)
    assert dest.read_bytes() == payload
    digest = hashlib.sha256(payload).hexdigest()
    assert (tmp_path / "a.tar.gz.sha256").read_text().split()[0] == digest
    assert not (tmp_path / "a.tar.gz.part").exists()
    assert server.ranges == [None]


def test_download_resumes_a_partial_file_with_range(
    tmp_path: Path, server: _Server, payload: bytes
) -> None:
    half = len(payload) // 2
    (tmp_path / "a.tar.gz.part").write_bytes(payload[:half])
    dest = download(
        server.url,
        tmp_path / "a.tar.gz",
        sha256=hashlib.sha256(payload).hexdigest(),
        progress=False,
    )
    assert dest.read_bytes() == payload
    assert server.ranges == [f"bytes={half}-"]


def test_server_ignoring_range_restarts_from_first_byte(tmp_path: Path, payload: bytes) -> None:
    (tmp_path / "a.tar.gz.part").write_bytes(b"garbage that must not survive")
    with _Server(payload, honour_range=False) as s:
        dest = download(s.url, tmp_path / "a.tar.gz", progress=False)
    assert dest.read_bytes() == payload


def test_checksum_mismatch_is_one_line_error_and_leaves_no_file(
    tmp_path: Path, server: _Server
) -> None:
    with pytest.raises(HarnessError, match=r"checksum mismatch for a\.tar\.gz.*expected 0{64}"):
        download(server.url, tmp_path / "a.tar.gz", sha256="0" * 64, progress=False)
    assert not (tmp_path / "a.tar.gz").exists()
    assert not (tmp_path / "a.tar.gz.part").exists()


def test_recorded_checksum_is_checked_on_next_fetch(tmp_path: Path, server: _Server) -> None:
    (tmp_path / "a.tar.gz.sha256").write_text("f" * 64 + "  a.tar.gz\n")
    with pytest.raises(HarnessError, match="checksum mismatch"):
        download(server.url, tmp_path / "a.tar.gz", progress=False)


def test_unreachable_server_says_so(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"cannot reach http://127\.0\.0\.1:9/"):
        download("http://127.0.0.1:9/x", tmp_path / "x", progress=False)


def test_missing_url_is_http_error(tmp_path: Path, server: _Server) -> None:
    with pytest.raises(HarnessError, match="HTTP 404"):
        download(server.url.replace("file", "nope"), tmp_path / "x", progress=False)


def test_fetch_dataset_tries_mirrors_then_extracts_train(tmp_path: Path, server: _Server) -> None:
    spec = Download(
        name="toy",
        urls=("http://127.0.0.1:9/dead-mirror.tar.gz", server.url),
        archive_name="toy.tar.gz",
        member="train.txt",
    )
    train = fetch_dataset(spec, tmp_path, progress=False)
    assert train == tmp_path / "train.txt"
    assert train.read_bytes() == ROWS
    # A second fetch finds the extracted file and asks the server nothing.
    n = len(server.ranges)
    assert fetch_dataset(spec, tmp_path, progress=False) == train
    assert len(server.ranges) == n


def test_extract_missing_member_names_what_is_there(tmp_path: Path, payload: bytes) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(payload)
    with pytest.raises(
        HarnessError, match=r"holds no 'test\.txt' \(it has readme\.txt, train\.txt\)"
    ):
        extract_member(archive, "test.txt", tmp_path / "test.txt", progress=False)


def test_extract_corrupt_archive_is_one_line_error(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(HarnessError, match="cannot read archive"):
        extract_member(archive, "train.txt", tmp_path / "train.txt", progress=False)
    assert not (tmp_path / "train.txt").exists()
