"""Config trees merged key by key: a study's ``[all]`` table and its arms over the base."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["merge_tree"]


def merge_tree(base: Mapping[str, Any], arm: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``arm``'s values; plain dicts and lists out (neither input is changed).

    The values replace the base's key by key, except that a table naming a ``kind`` (a part:
    ``[model.tokenizer.numeric] kind = "ple"``) replaces the base's table whole, so the part
    gets the arm's settings and its defaults for the rest, never the base part's settings.
    """
    out = {k: _thaw(v) for k, v in base.items()}
    for key, value in arm.items():
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, dict) and "kind" not in value:
            out[key] = merge_tree(old, value)
        else:
            out[key] = _thaw(value)
    return out


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value
