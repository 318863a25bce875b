"""The leaderboard a person reads: ``leaderboards/<suite>.md``, written atomically."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.atomic import write_text_atomic
from harness.data.card import Reference
from harness.environment import Environment
from harness.leaderboard.compression import MIN_GAIN, CompressionView
from harness.leaderboard.curves import ArmCurves
from harness.leaderboard.references import reference_note
from harness.leaderboard.sizes import SizeRow
from harness.leaderboard.summary import ArmSummary, MeanStd, ModelSummary, StudySummary
from harness.results.table import TrialResult

__all__ = [
    "COMPRESSION_READING",
    "CURVES_READING",
    "READING_A_STUDY",
    "SIZES_READING",
    "RunInfo",
    "compression_section",
    "curves_section",
    "format_bytes",
    "format_count",
    "format_mean_std",
    "format_params",
    "format_seconds",
    "render",
    "shown_path",
    "significance_text",
    "sizes_section",
    "study_section",
    "write_atomic",
]

CURVES_READING = (
    "Each column is mean ± std over the seeds that completed. A point is one validation score "
    "(first task) during training, placed at the epochs trained (1.25: a quarter into epoch 2). "
    "Best at: the position of a seed's best point (the earliest of equal ones); best valid AUC: "
    "its AUC; at the end: the AUC of its last point (the end of its last epoch); drop: best "
    "minus end per seed, above 0 when the model got worse after its best point; test AUC: at "
    "the epoch end with the best validation AUC, whose weights the trial keeps."
)
SIZES_READING = (
    "Each trial is scored again after training with its categorical embeddings cut to their "
    "first k dims (the others zero, the rest of the ranker unchanged): what serving tables of k "
    "columns would give. Trained with `[train.matryoshka]` weights above 0, the loss of each cut "
    "was part of training; with weights 0 the model trained plainly and is only scored cut."
)

COMPRESSION_READING = (
    "Kept of the gain: (AUC compressed − AUC without vectors) / (AUC full size − AUC without "
    "vectors), from the mean test AUCs over seeds; 100% keeps all the vectors add, 0% is no "
    "better than leaving them out, and with a gain of a few thousandths its noise is large. "
    "Each compressor is fitted on the training split only (each seed fits its own): on its "
    "vectors, and for matryoshka-label and matryoshka-both on its labels too, which makes them "
    "supervised: they keep what predicts the label, not what keeps neighbours (see recall@10). "
    "Above 100%, the compressed vectors serve the ranker better than the full ones. "
    "recall@10: for up to 2,000 test rows, the share of each one's 10 nearest neighbours by "
    "cosine at full size that are among its 10 nearest compressed (median over seeds). Kept "
    "variance: the training variance the kept directions explain (PCA, SVD)."
)

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
    # Stopped by Ctrl-C before it finished; how many invocations ran the search (a resumed run
    # has several; studies' invocations are not counted) and the tuning wall time they spent
    # together; the command line that ran it.
    interrupted: bool = False
    invocations: int = 1
    wall_seconds: float = 0.0
    command: str = ""
    # Every distinct command the folder's invocations ran, in order (a search, then a study, or
    # a resumed run with other options): what reproduces the board. Empty: ``command`` alone.
    commands: tuple[str, ...] = ()
    # The plot of the search, relative to the leaderboard ("" for none).
    plot: str = ""
    # Where each invocation ran (distinct ones, in order), published rows of the same split of
    # the full data, and the run folders a rebuilt board merges (`harness leaderboard --runs`).
    environments: tuple[Environment, ...] = ()
    references: tuple[Reference, ...] = ()
    merged_from: tuple[str, ...] = ()
    # The dense vector features: (name, width, what made it: a text model), in x_vec order.
    vectors: tuple[tuple[str, int, str], ...] = ()

    def to_json(self) -> str:
        """The header's facts as JSON (the run folder keeps them for `harness leaderboard`)."""
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunInfo:
        """Reads `to_json`'s text; fields a later version added take their defaults.

        Raises:
            ValueError: not a run's facts.
        """
        data: dict[str, Any] = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["rows"] = tuple(values.get("rows", (0, 0, 0)))
        values["models"] = tuple(tuple(m) for m in values.get("models", ()))
        values["tasks"] = tuple(values.get("tasks", ("label",)))
        values["vectors"] = tuple(tuple(v) for v in values.get("vectors", ()))
        values["environments"] = tuple(
            Environment.from_json(e) for e in values.get("environments", ())
        )
        values["references"] = tuple(_reference(r) for r in values.get("references", ()))
        values["merged_from"] = tuple(values.get("merged_from", ()))
        values["commands"] = tuple(values.get("commands", ()))
        try:
            return cls(**values)
        except TypeError as e:
            raise ValueError(f"not a run's facts: {e}") from None


def _reference(data: Mapping[str, Any]) -> Reference:
    return Reference(**{**data, "rows": tuple(data["rows"])})


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
    if s.lift is None:
        return "—"
    return f"{s.lift:+.4f}" + ("" if s.comparison is not None else " (1 seed)")


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
    ]
    if s.shared:
        lines.append(f"| every arm | `{'`, `'.join(s.shared)}` (the study file's `[all]`) |")
    lines += [
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
    if s.curves:
        lines += ["", *curves_section(s)]
    if s.compression is not None:
        lines += ["", *compression_section(s.compression, s.compression_plot)]
    if s.sizes:
        lines += ["", *sizes_section(s.sizes)]
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


def curves_section(s: StudySummary) -> list[str]:
    """A study's learning curves: per arm, where the validation AUC peaked, where it ended, the
    drop between them and the test AUC (each mean ± std over seeds), how the points were taken,
    and the plot (when written)."""
    lines = [
        "### Learning curves",
        "",
        "| arm | best at (epochs) | best valid AUC | valid AUC at the end | drop (best − end) "
        "| test AUC | seeds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in s.curves:
        lines.append(
            f"| {c.arm} | {format_mean_std(c.best_at, 2)} | {format_mean_std(c.best_auc)} | "
            f"{format_mean_std(c.end_auc)} | {format_mean_std(c.drop)} | "
            f"{format_mean_std(c.test_auc)} | {len(c.seeds)} |"
        )
    lines += ["", CURVES_READING + _scored(s.curves)]
    if s.curves_plot:
        lines += ["", f"![validation AUC during training, per arm]({s.curves_plot})"]
    return lines


def sizes_section(rows: Sequence[SizeRow]) -> list[str]:
    """Each arm with its ID embeddings cut to each Matryoshka size: test AUC and table bytes."""
    lines = [
        "### ID embeddings cut to a prefix (Matryoshka sizes)",
        "",
        "| arm | embedding size | test AUC (mean ± std) | ID table bytes | seeds |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        size = f"{r.size} (whole)" if r.full else str(r.size)
        lines.append(
            f"| {r.arm} | {size} | {format_mean_std(r.test_auc)} | "
            f"{format_bytes(r.table_bytes)} | {r.seeds} |"
        )
    lines += ["", SIZES_READING]
    return lines


def compression_section(view: CompressionView, plot: str = "") -> list[str]:
    """A compression study: the share of the vectors' gain each compressor keeps at each size
    (the published table's shape), then every point in full, and the plot (when written)."""
    width = view.full.width if view.full else max(p.width for p in view.points)
    gain = view.gain
    lines = ["### Compression of the vector features", ""]
    if gain is None:
        lines += [
            "The study has no arm without the vectors or none with them at full size, so the "
            "share of their gain kept is not computed.",
            "",
        ]
    elif gain < MIN_GAIN:
        lines += [
            f"The full-size vectors add {gain:+.4f} test AUC over none here (less than "
            f"{MIN_GAIN}): the share of that gain a compression keeps would be a ratio of noise, "
            "and is not shown.",
            "",
        ]
    else:
        header = " | ".join(f"{k} ({width / k:.0f}x smaller)" for k in view.sizes)
        lines += [
            f"Share of the test AUC the vectors add (full {width} dimensions over none: "
            f"{gain:+.4f}) that each compression keeps:",
            "",
            f"| compressor | {header} |",
            "|---|" + "---:|" * len(view.sizes),
        ]
        for kind in view.compressors:
            cells = []
            for k in view.sizes:
                kept = None if (p := view.at(kind, k)) is None else view.kept(p)
                cells.append("—" if kept is None else f"{kept:.0f}%")
            lines.append(f"| {kind} | {' | '.join(cells)} |")
        lines.append("")
    lines += [
        "| compressor | size | smaller | test AUC (mean ± std) | kept of the gain "
        "| recall@10 | kept variance | seeds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if view.without is not None:
        lines.append(
            f"| no vectors | 0 | — | {format_mean_std(view.without)} | 0% | — | — | "
            f"{view.without.n} |"
        )
    if view.full is not None:
        lines.append(
            f"| full size | {view.full.size} | 1x | {format_mean_std(view.full.test_auc)} | "
            f"{'100%' if view.kept(view.full) is not None else '—'} | 1.000 | — | "
            f"{len(view.full.seeds)} |"
        )
    for p in view.points:
        kept = view.kept(p)
        lines.append(
            f"| {p.compressor} | {p.size} | {p.smaller:.0f}x | {format_mean_std(p.test_auc)} | "
            f"{'—' if kept is None else f'{kept:.0f}%'} | {_metric(p.recall_at_10, 3)} | "
            f"{_metric(p.kept_variance, 3)} | {len(p.seeds)} |"
        )
    lines += ["", COMPRESSION_READING]
    if plot:
        lines += ["", f"![test AUC against the vectors' size, per compressor]({plot})"]
    return lines


def _scored(curves: Sequence[ArmCurves]) -> str:
    """How often the curves' points were taken, as their trials recorded it."""
    per_epoch = sorted({c.per_epoch for c in curves if c.seeds})
    if not per_epoch:
        return ""
    if per_epoch == [1]:
        return " Here the validation AUC was scored at each epoch's end."
    times = " or ".join(map(str, per_epoch))
    return (
        f" Here the validation AUC was scored {times} times per epoch "
        "(`train.evals_per_epoch`): after each equal share of an epoch's steps, the last at the "
        "epoch's end."
    )


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
        f"({format_count(info.vocabulary)} embedding ids)"
        + "".join(f", `{name}`: {width}-d vector ({made})" for name, width, made in info.vectors)
        + " |",
        f"| tasks | {', '.join(info.tasks)}"
        + (" (ranked by the first)" if len(info.tasks) > 1 else "")
        + (f"; groups: {info.group} (GAUC and NDCG@10 per group)" if info.group else "")
        + " |",
    ]
    commands = [c for c in (info.commands or (info.command,)) if c]
    if commands:
        shown = [
            "`" + " ".join(shown_path(w) if w.startswith("/") else w for w in c.split()) + "`"
            for c in commands
        ]
        label = "command" if len(shown) == 1 else "commands (in order)"
        lines.append(f"| {label} | {', then '.join(shown)} |")
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
    ]
    several = len(info.environments) > 1
    for i, env in enumerate(info.environments, start=1):
        which = f" ({i} of {len(info.environments)})" if several else ""
        lines += [
            f"| hardware{which} | {_one_line(env.hardware_text)} |",
            f"| software{which} | {_one_line(env.software_text, limit=600)} |",
        ]
    if info.merged_from:
        lines.append(
            f"| merged from | {', '.join(f'`{shown_path(d)}`' for d in info.merged_from)} |"
        )
    lines.append("")
    if rows:
        lines += _models_section(info, rows)
    if info.references:
        lines += _references_section(info.references)
    if studies:
        lines += [line for s in studies for line in study_section(s)]
    sqlite = info.storage_url.removeprefix("sqlite:///")
    if sqlite != info.storage_url:  # a file: shown like the results table
        studies_at = f"sqlite:///{shown_path(sqlite)}"
    else:  # a database server's URL (``--optuna-storage``; its password already masked)
        studies_at = info.storage_url
    # The run folder's own file opens by suite; anything else (a shared database) by its URL.
    if sqlite != info.storage_url and Path(sqlite).parent == Path(info.results_path).parent:
        dashboard = f"--suite {info.suite}" + (" --synthetic" if info.synthetic else "")
    else:
        dashboard = f"--optuna-storage {studies_at}"
    lines += [
        f"Every trial: `{shown_path(info.results_path)}` (parquet). Studies: `{studies_at}`",
        f"(open with `harness dashboard {dashboard}`).",
        "",
    ]
    return "\n".join(lines)


def _models_section(info: RunInfo, rows: Sequence[ModelSummary]) -> list[str]:
    """The ranked table (scores over seeds, the comparison with the best GBDT, cost), the
    search behind it, its notes and how to read them."""
    lines = ["## Best configuration per model", ""]
    multi = any(s.best is not None and _per_task(s.best) for s in rows)
    ranking = any(s.best is not None and s.best.test_gauc is not None for s in rows)
    extra_head = (" test GAUC | test NDCG@10 |" if ranking else "") + (
        " test AUC per task |" if multi else ""
    )
    extra_rule = ("---:|---:|" if ranking else "") + ("---|" if multi else "")
    lines += [
        "| rank | model | valid AUC (search) | test AUC (search, 1 seed) | test AUC (mean ± std) "
        "| test logloss (mean ± std) | seeds | lift vs best GBDT | 95% CI (test rows) "
        "| p (seeds) | significant |"
        + extra_head
        + " train time | train samples/s | inference samples/s | params | weights |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        + extra_rule
        + "---:|---:|---:|---:|---:|",
    ]
    for rank, s in enumerate(rows, start=1):
        b = s.best
        if b is None:
            blanks = " — |" * (9 + 2 * ranking + multi + 5)
            lines.append(f"| — | {_model(s)} |{blanks}")
            continue
        r = s.repeats
        lines.append(
            f"| {rank} | {_model(s)} | {_metric(b.valid_auc)} | {_metric(b.test_auc)} | "
            f"{format_mean_std(r.test_auc if r else None)} | "
            f"{format_mean_std(r.test_logloss if r else None)} | {_seed_count(s)} | "
            f"{_lift(s)} | {_interval(s)} | {_p_value(s)} | {significance_text(s)} |"
            + (f" {_metric(b.test_gauc)} | {_metric(b.test_ndcg10)} |" if ranking else "")
            + (f" {_per_task(b) or '—'} |" if multi else "")
            + f" {_seconds(_cost(r.train_seconds if r else None, b.train_seconds))} | "
            f"{_rate(_cost(r.samples_per_s if r else None, b.samples_per_s))} | "
            f"{_rate(_cost(r.predict_samples_per_s if r else None, b.predict_samples_per_s))} | "
            f"{_params(b)} | {_weights(s)} |"
        )
    lines += ["", *_reading(info, rows), ""]
    lines += [
        "### The search",
        "",
        "| model | trials (done/pruned/failed) | tuning wall time | best trial | "
        "best configuration |",
        "|---|---|---:|---|---|",
    ]
    for s in rows:
        b = s.best
        trial = "—" if b is None else f"{b.study_trial} of `{b.study}`"
        config = "no completed trial" if b is None else _config(b.params)
        lines.append(
            f"| {_model(s)} | {_trials(s)} | {format_seconds(s.wall_seconds)} | {trial} | "
            f"{config} |"
        )
    if info.plot:
        lines += ["", f"![validation AUC of every trial, per model]({info.plot})"]
    cut = [(s.model, s.cut_short) for s in rows if s.cut_short]
    if cut:
        lines += ["", "Cut short (not the result of a finished search; compare with care):", ""]
        lines += [f"- {model}: {why}" for model, why in cut]
    short = [
        (s.model, s.repeats) for s in rows if s.repeats and len(s.repeats.seeds) < s.repeats.asked
    ]
    if short:
        lines += ["", "Repeats that did not complete (not averaged):", ""]
        lines += [
            f"- {model}: {r.asked - len(r.seeds)} of {r.asked} "
            f"({r.pruned} stopped by the time budget, {r.failed} failed)"
            for model, r in short
        ]
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
    return [*lines, ""]


def _references_section(references: Sequence[Reference]) -> list[str]:
    """The published rows of the same split of the full data (not run here)."""
    lines = [
        "## Published reference rows (not run here)",
        "",
        "| setting | model | test AUC | test logloss |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| {r.benchmark} | {r.model} (published) | {r.test_auc:.4f} | {r.test_logloss:.4f} |"
        for r in references
    ]
    return [*lines, "", reference_note(references), ""]


def _reading(info: RunInfo, rows: Sequence[ModelSummary]) -> list[str]:
    """How to read the table: the protocol of the seeds and of each test."""
    seeds = sorted({seed for s in rows if s.repeats for seed in s.repeats.seeds})
    resamples = sorted(
        {
            s.comparison.interval.resamples
            for s in rows
            if s.comparison is not None and s.comparison.interval is not None
        }
    )
    text = [
        "Ranked by the search's validation AUC (first task). The search columns are the best "
        "trial's single-seed scores: the best of many trials, so optimistic. "
    ]
    if seeds:
        text.append(
            "After the searches, each model's best configuration was trained again with seeds "
            f"{', '.join(map(str, seeds))} (never the search's own seed; the reference GBDT's "
            "first, then by validation AUC, while the budget lasted); the mean ± std columns "
            "(sample standard deviation) are over the seeds that completed, and the cost columns "
            "are their means. "
            "Lift: mean test AUC minus the reference GBDT's (the GBDT with the best validation "
            "AUC), over the seeds both completed. p: two-sided paired t-test over those seeds "
            f"(the same seed of both models is a pair); with {len(seeds)} seeds only large "
            "differences reach it. 95% CI: percentile bootstrap over the test rows"
            + (f" ({' or '.join(map(str, resamples))} resamples; " if resamples else " (")
            + "Poisson weights, the same resample for both models, AUC averaged over the "
            "seeds): the uncertainty of a finite test split. Significant: p < 0.05 and the "
            'interval excludes 0; "no" means these runs do not show a difference, not that '
            "there is none. "
        )
    else:
        text.append(
            "No configuration was trained again with other seeds (--seeds 0, or the repeats have "
            "not run yet): lift is one seed's test AUC minus the best GBDT's, and on small data "
            "differences below about 0.005 are within seed-to-seed noise. "
        )
    text.append(
        "GAUC: the AUC within each group weighted by its rows; NDCG@10: over the groups with a "
        "positive (both where the data has groups). Inference: test rows scored per second. "
        "Parameters count weights for neural rankers and tree nodes for GBDTs (emb.: the "
        "categorical embeddings' share); weights: their fp32 bytes."
    )
    return ["".join(text)]


def _cost(repeated: float | None, search: float | None) -> float | None:
    """The repeats' mean where measured, else the search trial's."""
    return repeated if repeated is not None else search


def _rate(v: float | None) -> str:
    return "—" if v is None else format_params(int(v))


def _weights(s: ModelSummary) -> str:
    if s.kind != "neural" or s.best is None or s.best.n_params is None:
        return "—"
    return format_bytes(4 * s.best.n_params)


def _seed_count(s: ModelSummary) -> str:
    if s.repeats is None:
        return "0"
    return f"{len(s.repeats.seeds)}" + (
        f" of {s.repeats.asked}" if len(s.repeats.seeds) < s.repeats.asked else ""
    )


def _interval(s: ModelSummary) -> str:
    c = s.comparison
    if c is None or c.interval is None:
        return "—"
    return f"[{c.interval.low:+.4f}, {c.interval.high:+.4f}]"


def _p_value(s: ModelSummary) -> str:
    c = s.comparison
    if c is None or c.test.p_value is None:
        return "—"
    p = c.test.p_value
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def significance_text(s: ModelSummary) -> str:
    """``yes``, ``no``, ``reference`` or ``—`` (not measured) for a model's lift."""
    if s.reference:
        return "reference"
    if s.comparison is None or s.comparison.significant is None:
        return "—"
    return "yes" if s.comparison.significant else "no"


def write_atomic(path: Path, text: str) -> Path:
    """Writes ``text`` to ``path`` via a temporary file and ``os.replace``: never half a file."""
    return write_text_atomic(path, text)
