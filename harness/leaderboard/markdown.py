"""The leaderboard a person reads: ``leaderboards/<suite>.md``, written atomically."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.atomic import write_text_atomic
from harness.leaderboard.summary import ArmSummary, MeanStd, ModelSummary, StudySummary
from harness.results.table import TrialResult

__all__ = [
    "READING_A_STUDY",
    "RunInfo",
    "format_bytes",
    "format_count",
    "format_mean_std",
    "format_params",
    "format_seconds",
    "render",
    "shown_path",
    "study_section",
    "write_atomic",
]

READING_A_STUDY = (
    "Mean ± sample standard deviation over the seeds that completed (each seed trains the same "
    "configuration with its own initialisation and batch order); a difference between arms "
    "smaller than about 2 std is not evidence."
)


@dataclass(frozen=True)
class RunInfo:
    """What the header of a leaderboard says about the data and the run."""

    suite: str
    title: str
    synthetic: bool
    source: str
    protocol: str
    min_count: int
    rows: tuple[int, int, int]
    skipped_rows: int
    n_num: int
    n_cat: int
    vocabulary: int
    started_at: str
    harness_version: str
    resources: str
    trials_per_model: int
    time_budget_s: float
    results_path: str
    storage_url: str
    # (model, family, description) of every model on the board, from its search-space file.
    models: tuple[tuple[str, str, str], ...] = ()
    # The tasks (the first ranks the models), the group column, and the dataset card.
    tasks: tuple[str, ...] = ("label",)
    group: str | None = None
    card: str = ""
    # Stopped by Ctrl-C before it finished; how many invocations (a resumed run has several)
    # and the tuning wall time they spent together; the command line that ran it.
    interrupted: bool = False
    invocations: int = 1
    wall_seconds: float = 0.0
    command: str = ""


def format_seconds(s: float) -> str:
    s = round(s)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def format_count(n: int) -> str:
    return f"{n:,}"


def format_params(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def format_bytes(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def format_mean_std(v: MeanStd | None, digits: int = 4) -> str:
    if v is None:
        return "—"
    spread = "—" if v.std is None else f"{v.std:.{digits}f}"
    return f"{v.mean:.{digits}f} ± {spread}"


def _config(params_json: str) -> str:
    """The sampled parameters, ``name=value``; neural names lose their ``model.`` prefix."""
    params = json.loads(params_json)
    if not params:
        return "(no searched parameter)"
    return ", ".join(
        f"{k.removeprefix('model.')}={v:.3g}"
        if isinstance(v, float)
        else f"{k.removeprefix('model.')}={v}"
        for k, v in sorted(params.items())
    )


def _per_task(r: TrialResult) -> str:
    """``label 0.7812 · label 0.7011``: every task's test AUC ("" for one task)."""
    tasks = r.task_dict
    if len(tasks) < 2:
        return ""
    return " · ".join(f"{label} {_metric(m.get('test_auc'))}" for label, m in tasks.items())


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _metric(v: float | None, digits: int = 4) -> str:
    return "—" if v is None or v != v else f"{v:.{digits}f}"


def _seconds(v: float | None) -> str:
    # A trial stopped before it finished has no total training time.
    return "—" if v is None else format_seconds(v)


def _lift(s: ModelSummary) -> str:
    if s.reference:
        return "reference"
    return "—" if s.lift is None else f"{s.lift:+.4f}"


def shown_path(text: str) -> str:
    """A path as a leaderboard shows it: under the harness cache, the working folder or the home
    folder it is written relative to them (a committed board names no machine's folders)."""
    from harness.paths import harness_home, shipped_folder  # where the cache and package live

    path = Path(text)
    if not path.is_absolute():
        return text
    bases = (
        (shipped_folder("datasets").parent, "<harness>"),
        (harness_home(), "$HARNESS_HOME"),
        (Path.cwd(), "."),
        (Path.home(), "~"),
    )
    for base, name in bases:
        try:
            return f"{name}/{path.relative_to(base.resolve())}"
        except ValueError:
            continue
    return text


def _trials(s: ModelSummary) -> str:
    of = f" of {s.asked}" if s.asked else ""
    extra = f", {s.interrupted} interrupted" if s.interrupted else ""
    return f"{s.trials}{of} ({s.complete}/{s.pruned}/{s.failed}{extra})"


def _model(s: ModelSummary) -> str:
    return f"{s.model} (cut short)" if s.cut_short else s.model


def _params(r: TrialResult) -> str:
    """The model's size, with its embeddings' share where recorded."""
    if r.embedding_params is None:
        return format_params(r.n_params)
    return f"{format_params(r.n_params)} ({format_params(r.embedding_params)} emb.)"


def _seeds(a: ArmSummary) -> str:
    extra = [f"{n} {what}" for n, what in ((a.pruned, "pruned"), (a.failed, "failed")) if n]
    return f"{len(a.seeds)}" + (f" (+{', '.join(extra)})" if extra else "")


def study_section(s: StudySummary) -> list[str]:
    """A study's section: what was fixed, each arm's mean ± std over seeds, how to read it."""
    seeds = sorted({seed for a in s.arms for seed in a.seeds})
    lines = [f"## Study: {s.study}", ""]
    if s.description:
        lines += [_one_line(s.description), ""]
    lines += [
        "| | |",
        "|---|---|",
        f"| preset | `{s.preset}` |",
        f"| base configuration | {_one_line(s.base_source)} |",
        f"| factor | {f'`{s.factor}`' if s.factor else '(study file not found)'}: one arm per "
        "value, everything else as the base |",
        f"| seeds | {', '.join(map(str, seeds)) or '—'} |",
        "",
        "| arm | test AUC (mean ± std) | test logloss (mean ± std) | seeds | embedding params "
        "| embedding bytes | train s (mean) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for a in s.arms:
        train = "—" if a.train_seconds is None else f"{a.train_seconds:.1f}"
        lines.append(
            f"| {a.arm} | {format_mean_std(a.test_auc)} | {format_mean_std(a.test_logloss)} | "
            f"{_seeds(a)} | {format_params(a.embedding_params)} | "
            f"{format_bytes(a.embedding_bytes)} | {train} |"
        )
    lines += ["", f"{READING_A_STUDY} Best mean test AUC first."]
    settings = [(a.arm, a.settings) for a in s.arms if a.settings]
    if settings:
        lines += ["", "What each arm sets:", ""]
        lines += [f"- {arm}: `{'`, `'.join(sets)}`" for arm, sets in settings]
    if s.hidden:
        lines += [
            "",
            f"{s.hidden} trials of this study with another base or an earlier version of an arm "
            "are in the results table, not shown.",
        ]
    return [*lines, ""]


def render(
    info: RunInfo, rows: Sequence[ModelSummary], studies: Sequence[StudySummary] = ()
) -> str:
    """The whole markdown page: header with data and run facts, the ranked table, notes, and a
    section per factor study."""
    train, valid, test = info.rows
    lines = [f"# Leaderboard: {info.title}", ""]
    if info.interrupted:
        lines += [
            "> **Interrupted.** This run was stopped (Ctrl-C) before it finished: the table",
            "> shows the trials that ended before the stop. The same command with `--resume`",
            "> continues it.",
            "",
        ]
    if info.synthetic:
        name = info.suite.removesuffix("-synthetic")
        lines += [
            "> **Synthetic data.** No real data was found, so this run used a synthetic",
            f"> {name}-shaped stand-in (planted signal). It shows the pipeline works; it says",
            f"> nothing about which model wins on real {name} data. Pass `--data PATH` (or",
            "> `harness data fetch` where the dataset card has a download).",
            "",
        ]
    lines += [
        "| | |",
        "|---|---|",
        f"| suite | `{info.suite}` |",
        f"| data | {shown_path(info.source)} |",
        f"| protocol | {info.protocol}, minimum count {info.min_count} |",
        f"| rows | train {format_count(train)} · valid {format_count(valid)} · "
        f"test {format_count(test)}"
        + (f" · skipped bad rows {format_count(info.skipped_rows)}" if info.skipped_rows else "")
        + " |",
        f"| features | {info.n_num} numeric, {info.n_cat} categorical "
        f"({format_count(info.vocabulary)} embedding ids) |",
        f"| tasks | {', '.join(info.tasks)}"
        + (" (ranked by the first)" if len(info.tasks) > 1 else "")
        + (f"; groups: {info.group} (GAUC and NDCG@10 per group)" if info.group else "")
        + " |",
    ]
    if info.command:
        command = " ".join(shown_path(w) if w.startswith("/") else w for w in info.command.split())
        lines.append(f"| command | `{command}` |")
    if info.card:
        lines.append(f"| dataset card | `{shown_path(info.card)}` |")
    search = (
        f"{info.trials_per_model} trials per model asked, time budget "
        f"{format_seconds(info.time_budget_s)} shared by the models; tuning took "
        f"{format_seconds(info.wall_seconds)}"
        + (f" over {info.invocations} invocations (resumed)" if info.invocations > 1 else "")
        if info.trials_per_model
        else "none in this run folder yet"
    )
    lines += [
        f"| run | {info.started_at}, harness {info.harness_version}, {info.resources} |",
        f"| search | {search} |",
        "",
    ]
    if rows:
        lines += _models_section(info, rows)
    if studies:
        lines += [line for s in studies for line in study_section(s)]
    lines += [
        f"Every trial: `{shown_path(info.results_path)}` (parquet). Studies: "
        f"`sqlite:///{shown_path(info.storage_url.removeprefix('sqlite:///'))}`",
        f"(open with `harness dashboard --suite {info.suite}"
        + (" --synthetic" if info.synthetic else "")
        + "`).",
        "",
    ]
    return "\n".join(lines)


def _models_section(info: RunInfo, rows: Sequence[ModelSummary]) -> list[str]:
    """The ranked table of the search, its notes and how to read it."""
    lines = ["## Best configuration per model", ""]
    multi = any(s.best is not None and _per_task(s.best) for s in rows)
    ranking = any(s.best is not None and s.best.test_gauc is not None for s in rows)
    extra_head = (" test GAUC | test NDCG@10 |" if ranking else "") + (
        " test AUC per task |" if multi else ""
    )
    extra_rule = ("---:|---:|" if ranking else "") + ("---|" if multi else "")
    lines += [
        "| rank | model | valid AUC | test AUC | test logloss | lift vs best GBDT |"
        + extra_head
        + " trials (done/pruned/failed) | tuning wall time | best trial train time "
        "| params | best configuration |",
        "|---:|---|---:|---:|---:|---:|" + extra_rule + "---|---:|---:|---:|---|",
    ]
    for rank, s in enumerate(rows, start=1):
        b = s.best
        counts = _trials(s)
        if b is None:
            blanks = " — |" * (2 * ranking + multi)
            lines.append(
                f"| — | {_model(s)} | — | — | — | — |{blanks} {counts} | "
                f"{format_seconds(s.wall_seconds)} | — | — | no completed trial |"
            )
            continue
        lines.append(
            f"| {rank} | {_model(s)} | {_metric(b.valid_auc)} | {_metric(b.test_auc)} | "
            f"{_metric(b.test_logloss)} | {_lift(s)} |"
            + (f" {_metric(b.test_gauc)} | {_metric(b.test_ndcg10)} |" if ranking else "")
            + (f" {_per_task(b) or '—'} |" if multi else "")
            + f" {counts} | {format_seconds(s.wall_seconds)} | {_seconds(b.train_seconds)} | "
            f"{_params(b)} | {_config(b.params)} |"
        )
    cut = [(s.model, s.cut_short) for s in rows if s.cut_short]
    if cut:
        lines += ["", "Cut short (not the result of a finished search; compare with care):", ""]
        lines += [f"- {model}: {why}" for model, why in cut]
    failures = [(s.model, e, n) for s in rows for e, n in s.failures]
    if failures:
        lines += ["", "Failed trials (the traceback of each is named in its row's notes):", ""]
        lines += [f"- {model}: {n} × {_one_line(e)}" for model, e, n in failures]
    notes = [(s.model, s.best.notes) for s in rows if s.best is not None and s.best.notes]
    notes += [
        (s.model, f"{s.older} trials of an earlier version of its search space are not ranked")
        for s in rows
        if s.older
    ]
    if notes:
        lines += ["", "Notes on the best trials (row sampling, device, ...):", ""]
        lines += [f"- {model}: {note}" for model, note in notes]
    if info.models:
        lines += ["", "Models (search-space files in `search_spaces/`):", ""]
        lines += [
            f"- `{name}` ({family}): {description or 'no description'}"
            for name, family, description in info.models
        ]
    lines += [
        "",
        "Ranked by validation AUC of the first task; the test columns are that configuration's "
        "scores on the test split, which the search never saw (GAUC: the AUC within each group "
        "weighted by its rows; NDCG@10: over the groups with a positive; both where the data has "
        "groups). Lift is test AUC minus the best GBDT's test AUC.",
        "Each configuration ran with one seed: on small data, AUC differences below about 0.005",
        "are within seed-to-seed noise. Parameters count weights for neural rankers and tree",
        "nodes for GBDTs (emb.: the categorical embeddings' share of a neural ranker's).",
        "",
    ]
    return lines


def write_atomic(path: Path, text: str) -> Path:
    """Writes ``text`` to ``path`` via a temporary file and ``os.replace``: never half a file."""
    return write_text_atomic(path, text)
