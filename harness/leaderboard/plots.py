"""Pictures beside the leaderboard: the search (each model's validation AUC trial by trial, and
its best so far) and a factor study's learning curves.

`search_curves` turns the results table's rows into plain numbers (one `SearchCurve` per model);
`search_figure` draws them; `plot_search` writes the PNG beside the leaderboard::

    png = plot_search(rows, ["lightgbm", "dcnv2"], paths.plot, title="criteo, x4, 200 trials")
    if png is not None:
        ...  # link it from the leaderboard: ![search](criteo-search.png)

`curves_figure` draws a study's arms' learning curves (`harness.leaderboard.curves`: the mean
validation AUC over seeds against epochs trained, the seeds' range shaded, the epoch ends
marked) and `plot_curves` writes them (``<board>-<study>-curves.png``); `compression_figure`
draws a compression study's test AUC against the vectors' size per compressor and
`plot_compression` writes it (``<board>-<study>-compression.png``).

Only search trials are drawn (a factor study's arms and the repeat stage's seeds are not part
of the search), in the order they started. The score is the first task's validation AUC, the
one the search maximises. Complete and pruned trials both count towards the best so far, as
both can be a model's best on the leaderboard; failed trials sit on the floor of the plot.
matplotlib is imported only to draw, with the Agg canvas: no display is needed or touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from harness.atomic import replace_atomically
from harness.leaderboard.compression import CompressionView
from harness.leaderboard.curves import ArmCurves
from harness.results.table import TrialResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "SearchCurve",
    "SearchPoint",
    "auc_limits",
    "compression_figure",
    "curves_figure",
    "plot_compression",
    "plot_curves",
    "plot_search",
    "search_curves",
    "search_figure",
    "y_limits",
]

# Statuses of ended trials that are drawn; interrupted ones (Ctrl-C, a killed run) are not.
DRAWN = ("complete", "pruned", "failed")
# A best that may be one of the model's best on the leaderboard.
COUNTED = ("complete", "pruned")


@dataclass(frozen=True)
class SearchPoint:
    """One ended search trial of a model.

    Attributes:
        trial: its number among the model's drawn trials, from 1, in the order they started.
        status: complete, pruned or failed.
        valid_auc: its validation AUC (None: failed, or never scored).
        best_so_far: the best validation AUC of the model's complete and pruned trials up to
            this one (None before the first).
    """

    trial: int
    status: str
    valid_auc: float | None
    best_so_far: float | None


@dataclass(frozen=True)
class SearchCurve:
    """A model's search: its ended trials in start order."""

    model: str
    points: tuple[SearchPoint, ...]

    @property
    def best(self) -> float | None:
        return self.points[-1].best_so_far if self.points else None

    @property
    def scored(self) -> tuple[SearchPoint, ...]:
        """The complete and pruned trials that have a validation AUC (drawn at their score)."""
        return tuple(p for p in self.points if p.valid_auc is not None and p.status in COUNTED)


def search_curves(rows: Sequence[TrialResult], models: Sequence[str]) -> dict[str, SearchCurve]:
    """Each model's search, in ``models`` order (a model without rows has no points).

    Args:
        rows: the run's rows (one dataset and protocol; filter older search spaces out first
            if they should not show). Factor-study and repeat rows are left out here.
        models: the models to draw, in legend order.
    """
    out: dict[str, SearchCurve] = {}
    for model in models:
        mine = [
            r
            for r in rows
            if r.model == model and not r.factor_study and not r.repeat_of and r.status in DRAWN
        ]
        # Python's sort is stable: rows without a start time keep the table's order.
        mine.sort(key=lambda r: r.started_at)
        points = []
        best: float | None = None
        for number, row in enumerate(mine, start=1):
            auc = row.valid_auc
            if auc is not None and math.isnan(auc):
                auc = None
            if auc is not None and row.status in COUNTED:
                best = auc if best is None else max(best, auc)
            points.append(SearchPoint(number, row.status, auc, best))
        out[model] = SearchCurve(model, tuple(points))
    return out


def y_limits(curves: Sequence[SearchCurve]) -> tuple[float, float]:
    """The AUC axis: from a robust floor to just above the best trial.

    The floor is the lowest score that is not a far outlier (Tukey's fence, the lower quartile
    less 1.5 interquartile ranges), so one diverged trial at 0.5 does not squash the trials
    that matter into a line; the trials below it are drawn on the floor.
    """
    values = [p.valid_auc for c in curves for p in c.scored if p.valid_auc is not None]
    if not values:
        raise ValueError("no model has a validation AUC to plot")
    return auc_limits(values)


def auc_limits(aucs: Sequence[float]) -> tuple[float, float]:
    """An AUC axis for ``aucs`` (at least one): from the lowest value that is not a far outlier
    (Tukey's fence) to just above the highest (see `y_limits`)."""
    values = np.asarray(aucs, dtype=float)
    q1, q3 = np.quantile(values, [0.25, 0.75])
    floor = max(float(values.min()), float(q1 - 1.5 * (q3 - q1)))
    top = float(values.max())
    pad = max(0.05 * (top - floor), 0.002)
    return max(0.0, floor - pad), min(1.0, top + pad)


def search_figure(curves: Sequence[SearchCurve], title: str) -> Figure:
    """The plot of ``curves`` (models without a validation AUC are left out).

    Each model has a colour: its complete trials are filled dots, pruned ones hollow, failed
    ones (and any without a score) crosses on the floor, trials scored below the floor
    triangles on it; its best so far is a
    step line (the line's data is ``best_so_far``, from the model's first scored trial on).

    Raises:
        ValueError: no model has a validation AUC.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    shown = [c for c in curves if c.scored]
    low, high = y_limits(shown)
    fig = Figure(figsize=(10, 5.6), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    colours = [f"C{i % 10}" for i in range(len(shown))]
    floor = low + 0.01 * (high - low)
    for curve, colour in zip(shown, colours, strict=True):
        steps = [(p.trial, p.best_so_far) for p in curve.points if p.best_so_far is not None]
        ax.step(
            [trial for trial, _ in steps],
            [best for _, best in steps],
            where="post",
            color=colour,
            linewidth=2.2,
            label=f"{curve.model} ({curve.best:.4f})" if curve.best is not None else curve.model,
            gid=f"best:{curve.model}",
            zorder=3,
        )
        for status, marker, face in (("complete", "o", colour), ("pruned", "o", "none")):
            above = [
                (p.trial, p.valid_auc)
                for p in curve.scored
                if p.status == status and p.valid_auc is not None and p.valid_auc >= low
            ]
            ax.scatter(
                [trial for trial, _ in above],
                [auc for _, auc in above],
                marker=marker,
                s=22,
                facecolors=face,
                edgecolors=colour,
                linewidths=1.0,
                alpha=0.75,
                zorder=2,
            )
        scored = {p.trial for p in curve.scored}
        below = [p for p in curve.scored if p.valid_auc is not None and p.valid_auc < low]
        failed = [p for p in curve.points if p.trial not in scored]
        for points, marker in ((below, "v"), (failed, "x")):
            if points:
                ax.scatter(
                    [p.trial for p in points],
                    [floor] * len(points),
                    marker=marker,
                    s=30,
                    color=colour,
                    linewidths=1.2,
                    zorder=2,
                    clip_on=False,
                )
    ax.set_ylim(low, high)
    ax.set_xlim(0.5, max(len(c.points) for c in shown) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial (each model's search trials, in the order they started)")
    ax.set_ylabel("validation AUC (first task)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    grey = "0.35"
    kinds = [
        Line2D([], [], color=grey, marker="o", linestyle="", label="complete trial"),
        Line2D([], [], color=grey, marker="o", markerfacecolor="none", linestyle="",
               label="pruned trial"),
        Line2D([], [], color=grey, marker="x", linestyle="", label="failed trial"),
        Line2D([], [], color=grey, marker="v", linestyle="", label="scored below the axis"),
        Line2D([], [], color=grey, linewidth=2.2, drawstyle="steps-post", label="best so far"),
    ]  # fmt: skip
    # Beside the axes, not on them: the points of any corner may be the ones that matter.
    fig.legend(loc="outside right upper", title="model: best so far", fontsize="small")
    fig.legend(handles=kinds, loc="outside right lower", fontsize="small")
    return fig


def plot_search(
    rows: Sequence[TrialResult], models: Sequence[str], path: Path, title: str
) -> Path | None:
    """Writes the plot of the search to ``path`` (a PNG, written whole or not at all).

    Returns:
        ``path``, or None (nothing written) when no model has a validation AUC.
    """
    curves = search_curves(rows, models)
    if not any(c.scored for c in curves.values()):
        return None
    fig = search_figure(list(curves.values()), title)

    def write(f: IO[bytes]) -> None:
        fig.savefig(f, format="png")

    return replace_atomically(path, write)


def curves_figure(curves: Sequence[ArmCurves], title: str) -> Figure:
    """The learning curves of a study's arms (arms with no scored point are left out).

    One line per arm: its mean validation AUC over seeds at each position (epochs trained),
    with the seeds' lowest and highest AUC shaded where several seeds were scored; dotted
    vertical lines at the epoch ends, where a drop after epoch 1 shows. The AUC axis starts at
    a robust floor (`auc_limits` of the mean points), so the first fraction of an epoch, far
    below the rest, may leave the plot at its bottom.

    Raises:
        ValueError: no arm has a scored point.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MultipleLocator

    shown = [c for c in curves if c.band]
    if not shown:
        raise ValueError("no arm has a validation AUC to plot")
    low, high = auc_limits([p.mean for c in shown for p in c.band])
    last = max(p.at for c in shown for p in c.band)
    fig = Figure(figsize=(10, 5.6), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    for epoch in range(1, math.floor(last) + 1):
        ax.axvline(epoch, color="0.5", linestyle=":", linewidth=1.0, gid=f"epoch:{epoch}")
    for i, arm in enumerate(shown):
        colour = f"C{i % 10}"
        at = [p.at for p in arm.band]
        ax.plot(
            at,
            [p.mean for p in arm.band],
            color=colour,
            linestyle="-" if i < 10 else "--",  # the 11th arm on reuses the colours
            marker="o",
            markersize=3,
            linewidth=1.8,
            label=arm.arm,
            gid=f"curve:{arm.arm}",
        )
        if any(p.n > 1 for p in arm.band):
            ax.fill_between(
                at, [p.low for p in arm.band], [p.high for p in arm.band], color=colour, alpha=0.12
            )
    per_epoch = sorted({c.per_epoch for c in shown})
    scored = (
        "validation scored at each epoch's end"
        if per_epoch == [1]
        else f"validation scored {' or '.join(map(str, per_epoch))} times per epoch"
    )
    ax.set_ylim(low, high)
    ax.set_xlim(0.0, last + 0.1)
    ax.xaxis.set_major_locator(MultipleLocator(1.0))
    ax.set_xlabel(f"epochs trained ({scored}; dotted lines: epoch ends)")
    ax.set_ylabel("validation AUC (first task), mean over seeds")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    fig.legend(loc="outside right upper", title="arm (shaded: seeds' range)", fontsize="small")
    return fig


def plot_curves(curves: Sequence[ArmCurves], path: Path, title: str) -> Path | None:
    """Writes the learning curves of a study's arms to ``path`` (a PNG, whole or not at all).

    Returns:
        ``path``, or None (nothing written) when no arm has a scored point.
    """
    if not any(c.band for c in curves):
        return None
    fig = curves_figure(curves, title)

    def write(f: IO[bytes]) -> None:
        fig.savefig(f, format="png")

    return replace_atomically(path, write)


def compression_figure(view: CompressionView, title: str) -> Figure:
    """Test AUC against the vectors' size, one line per compressor (mean over seeds, the std as
    error bars), with the full-size vectors and none as horizontal references.

    Raises:
        ValueError: no compressed point has a test AUC.
    """
    from matplotlib.figure import Figure

    shown = [p for p in view.points if p.test_auc is not None]
    if not shown:
        raise ValueError("no compressed point has a test AUC to plot")
    fig = Figure(figsize=(9, 5.4), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    references = [("full size", view.full.test_auc if view.full else None, "0.2", "-")]
    references.append(("no vectors", view.without, "0.5", "--"))
    aucs = [p.test_auc.mean - (p.test_auc.std or 0.0) for p in shown if p.test_auc is not None]
    aucs += [p.test_auc.mean + (p.test_auc.std or 0.0) for p in shown if p.test_auc is not None]
    for label, value, colour, style in references:
        if value is not None:
            aucs.append(value.mean)
            ax.axhline(value.mean, color=colour, linestyle=style, linewidth=1.4, label=label)
    for i, kind in enumerate(view.compressors):
        points = [p for p in shown if p.compressor == kind and p.test_auc is not None]
        ax.errorbar(
            [p.size for p in points],
            [p.test_auc.mean for p in points if p.test_auc is not None],
            yerr=[(p.test_auc.std or 0.0) for p in points if p.test_auc is not None],
            color=f"C{i % 10}",
            marker="o",
            markersize=4,
            linewidth=1.8,
            capsize=3,
            label=kind,
            gid=f"compressor:{kind}",
        )
    # Every point and both references in view: the no-vectors line is the floor the share of the
    # gain is measured from, not an outlier to cut (as `auc_limits` would).
    pad = max(0.04 * (max(aucs) - min(aucs)), 0.002)
    ax.set_ylim(max(0.0, min(aucs) - pad), min(1.0, max(aucs) + pad))
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(view.sizes), [str(k) for k in view.sizes])
    ax.set_xlabel("size the model saw (dimensions, log scale)")
    ax.set_ylabel("test AUC (first task), mean ± std over seeds")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    fig.legend(loc="outside right upper", title="compressor", fontsize="small")
    return fig


def plot_compression(view: CompressionView, path: Path, title: str) -> Path | None:
    """Writes `compression_figure` to ``path`` (a PNG, whole or not at all); None (nothing
    written) when no compressed point has a test AUC."""
    if not any(p.test_auc is not None for p in view.points):
        return None
    fig = compression_figure(view, title)

    def write(f: IO[bytes]) -> None:
        fig.savefig(f, format="png")

    return replace_atomically(path, write)
