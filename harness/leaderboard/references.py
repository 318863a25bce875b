"""Published results set beside a run's own, only where the run has the same split of the data.

A dataset card's ``[[references]]`` (`harness.data.card.Reference`) are scores published
elsewhere, BARS's leaderboards so far, on the full dataset. A run sits beside them only when it
used the same protocol and its train, valid and test row counts match the published ones: a
run on the 10,000-row head, a sample, synthetic data or another split never shows them::

    shown = applicable_references(card.references, info.protocol, info.rows)
    if shown:
        note = reference_note(shown)  # under the table of published rows
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.data.card import Reference

__all__ = ["BARS_URL", "applicable_references", "reference_note"]

BARS_URL = "https://openbenchmark.github.io/BARS/"
# Split sizes may differ from the published ones by this share of the published total. The
# random protocols hash each row, so their sizes carry binomial noise (about 0.005% of 45M
# rows); a sample or a head of the file misses by far more.
TOLERANCE = 1e-3


def applicable_references(
    card_references: Sequence[Reference],
    protocol: str,
    rows: tuple[int, int, int],
    *,
    tolerance: float = TOLERANCE,
) -> tuple[Reference, ...]:
    """The references a run may be shown beside, in the card's order.

    Args:
        card_references: the dataset card's `DatasetCard.references`.
        protocol: the run's split protocol. Pre-split files (``files``) match any reference
            whose counts they have: the publisher's own split files.
        rows: the run's train, valid and test rows.
        tolerance: how far each split's rows may be from the published ones, as a share of
            the published total.

    Returns:
        The references of the run's protocol whose three row counts each match, else none.
    """
    if len(rows) != 3 or any(n < 0 for n in rows):
        raise ValueError(f"rows must be the train, valid and test row counts, got {rows=}")
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must lie in [0, 1), got {tolerance=}")
    return tuple(
        ref
        for ref in card_references
        if protocol in (ref.protocol, "files")
        and all(abs(a - b) <= tolerance * ref.total for a, b in zip(rows, ref.rows, strict=True))
    )


def reference_note(references: Sequence[Reference]) -> str:
    """A paragraph for under the published rows: where they come from, and why they are a
    landmark rather than a seed-for-seed comparison ("" for no references)."""
    if not references:
        return ""
    settings = []
    for benchmark in dict.fromkeys(r.benchmark for r in references):
        ref = next(r for r in references if r.benchmark == benchmark)
        train, valid, test = (f"{n:,}" for n in ref.rows)
        choices = [f"{train} / {valid} / {test} rows"]
        if ref.min_count:
            choices.append(f"values seen fewer than {ref.min_count} times merged")
        if ref.embedding_dim:
            choices.append(f"embedding size {ref.embedding_dim}")
        if ref.batch_size:
            choices.append(f"batch {ref.batch_size:,}")
        settings.append(f"[{benchmark}]({ref.source}): {', '.join(choices)}")
    return (
        f"Published elsewhere, not run here: test scores from the [BARS]({BARS_URL}) "
        f"leaderboards ({'; '.join(settings)}), on the full data, trained on GPUs with BARS's "
        "preprocessing, fixed embedding size and batch, and its own tuning. Their splits have "
        "this run's sizes but, unless this run read BARS's own split files, not its rows: they "
        "show where published models land, not a seed-for-seed comparison."
    )
