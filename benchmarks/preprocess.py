"""Benchmark: raw Criteo text -> cached arrays (cold cache), rows/s and peak memory.

Run ``.venv/bin/python -m benchmarks.preprocess`` (``--help`` for options). It generates (or
reuses, in ``benchmarks/out/``) a synthetic Criteo file, then runs `prepare_criteo` on a fresh
cache in a child process, so that neither the generator's memory nor an earlier run's counts
towards the peak RSS measured; prints a markdown table and writes it to
``benchmarks/results/preprocess.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from harness.data.preprocess import PreprocessConfig, prepare_criteo
from harness.data.synthetic import write_synthetic_criteo

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
RESULTS = ROOT / "results" / "preprocess.md"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Measurement:
    """One cold-cache run of `prepare_criteo` in a child process."""

    label: str
    rows: int
    file_mib: float
    total_s: float
    parse_s: float
    fit_s: float
    encode_s: float
    cpu_s: float
    peak_rss_mib: float
    baseline_rss_mib: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.total_s


def _max_rss_mib() -> float:
    """This process's peak RSS in MiB: VmHWM of its own memory map. Not ``ru_maxrss``, which in
    a spawned child keeps the parent's high-water mark across fork and exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(path: str, config: PreprocessConfig, queue: multiprocessing.Queue[str]) -> None:
    baseline = _max_rss_mib()  # interpreter + polars + numpy, before any data
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    with tempfile.TemporaryDirectory(prefix="bench-preprocess-") as cache:
        started = time.perf_counter()
        dataset = prepare_criteo(Path(path), config, cache_root=Path(cache), progress=False)
        total = time.perf_counter() - started
        assert dataset.cache_dir is not None
        meta = json.loads((Path(dataset.cache_dir) / "meta.json").read_text())
    timings = meta["timings"]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put(
        json.dumps(
            {
                "rows": meta["total_rows"],
                "total_s": total,
                "parse_s": timings["parse_s"],
                "fit_s": timings["fit_s"],
                "encode_s": timings["encode_s"],
                "cpu_s": usage.ru_utime + usage.ru_stime - cpu_before,
                "peak_rss_mib": _max_rss_mib(),
                "baseline_rss_mib": baseline,
            }
        )
    )


def measure(label: str, path: Path, config: PreprocessConfig) -> Measurement:
    """Run one cold-cache preparation in a fresh (spawned) process."""
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[str] = context.Queue()
    process = context.Process(target=_child, args=(str(path), config, queue))
    process.start()
    result = json.loads(queue.get())
    process.join()
    return Measurement(label=label, file_mib=path.stat().st_size / MIB, **result)


def synthetic_file(rows: int, *, compress: bool) -> tuple[Path, float | None]:
    """The benchmark input, generated once; also the generation time when it was generated now."""
    suffix = ".txt.gz" if compress else ".txt"
    path = OUT / f"synthetic-criteo-{rows}-seed0{suffix}"
    if path.exists():
        return path, None
    started = time.perf_counter()
    write_synthetic_criteo(path, rows, seed=0, compress=compress)
    return path, time.perf_counter() - started


def render(
    results: list[Measurement], generated: dict[str, tuple[int, float]], args: argparse.Namespace
) -> str:
    lines = [
        f"# {args.title}",
        "",
        f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Python "
        f"{platform.python_version()}, polars {pl.__version__}; polars threads "
        f"{pl.thread_pool_size()}. Block size {args.block_mib} MiB, protocol {args.protocol}, "
        f"min_count {args.min_count}. Date {time.strftime('%Y-%m-%d %H:%M')}.",
        "Peak RSS: VmHWM of the child process that ran `prepare_criteo` (baseline = after "
        "imports, before any data). CPU s: user + system time of that process (all threads); "
        "when CPU s / 2 is well below total s, other processes were using the cores. Figures "
        "on a shared machine vary from run to run.",
        "",
        "| input | rows | file MiB | total s | rows/s | parse s | fit s | encode s | CPU s "
        "| peak RSS MiB | baseline RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in results:
        lines.append(
            f"| {m.label} | {m.rows:,} | {m.file_mib:.0f} | {m.total_s:.2f} | "
            f"{m.rows_per_s:,.0f} | {m.parse_s:.2f} | {m.fit_s:.2f} | {m.encode_s:.2f} | "
            f"{m.cpu_s:.1f} | "
            f"{m.peak_rss_mib:.0f} | {m.baseline_rss_mib:.0f} |"
        )
    if generated:
        lines += ["", "Synthetic generation (this run):", ""]
        for label, (rows, seconds) in generated.items():
            lines.append(f"- {label}: {seconds:.2f} s, {rows / seconds:,.0f} rows/s")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[2_000_000],
        help="synthetic rows (sizes)",
    )
    parser.add_argument("--block-mib", type=int, default=32, help="reader block size in MiB")
    parser.add_argument("--protocol", default="sequential", help="split protocol")
    parser.add_argument("--min-count", type=int, default=2, help="vocabulary min count")
    parser.add_argument("--gzip", action="store_true", help="also time a gzip copy of the input")
    parser.add_argument("--results", type=Path, default=RESULTS, help="markdown output file")
    parser.add_argument(
        "--title",
        default="Preprocessing benchmark (raw Criteo text -> cached arrays, cold cache)",
        help="the markdown section's heading",
    )
    args = parser.parse_args(argv)

    config = PreprocessConfig(
        protocol=args.protocol, min_count=args.min_count, block_bytes=args.block_mib * MIB
    )
    generated: dict[str, tuple[int, float]] = {}
    results: list[Measurement] = []
    for rows in args.rows:
        for compress in (False, True) if args.gzip else (False,):
            path, seconds = synthetic_file(rows, compress=compress)
            label = f"synthetic {rows / 1e6:g}M, {'gzip' if compress else 'plain text'}"
            if seconds is not None:
                generated[label] = (rows, seconds)
            # One size at a time, each in a fresh process: the peaks do not mix.
            results.append(measure(label, path, config))
            print(f"{label}: {results[-1].rows_per_s:,.0f} rows/s", flush=True)
    text = render(results, generated, args)
    sys.stdout.write(text)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
