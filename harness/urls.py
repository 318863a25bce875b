"""Storage URLs as the user gives them (``--optuna-storage``, ``--storage-path``): which strings
are URLs, and how they are shown with their password hidden.

Light on purpose (no optuna, no SQLAlchemy): the CLI masks its own command line with it before
the command is written to ``run.json`` and the leaderboard.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["is_url", "masked_url"]


def is_url(where: Path | str) -> bool:
    """Whether ``where`` is a URL (``postgresql://...``, ``s3://...``), not a local path."""
    return isinstance(where, str) and "://" in where


def masked_url(url: str) -> str:
    """The URL with its password replaced by ``***``, for anything shown or written.

    Works on URLs SQLAlchemy misreads too (a password with an unescaped ``@``): everything
    between ``user:`` and the last ``@`` is hidden, and so is a ``password=`` query parameter.
    A string with no password comes back as it was.

    Example:
        ``masked_url("postgresql://bob:s3cret@db/harness") == "postgresql://bob:***@db/harness"``
    """
    scheme, sep, rest = url.partition("://")
    if not sep:  # no scheme: ``user:password@host/db`` still hides its password
        scheme, rest = "", url
    if "@" in rest:
        at = rest.rfind("@")
        user, colon, _ = rest[:at].partition(":")
        if colon:
            rest = f"{user}:***{rest[at:]}"
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", f"{scheme}{sep}{rest}")
