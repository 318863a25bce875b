"""Study files: ``search_spaces/studies/<name>.toml``, a factor and the arms that vary it.

A study file is read and edited by people, like a search-space file::

    description = "Numeric encodings, everything else fixed"
    factor = "model.tokenizer.numeric"          # or a list of dotted keys

    [arms.log1p.model.tokenizer.numeric]        # an arm: a partial config tree, constants only
    kind = "log1p"
    [arms.ple.model.tokenizer.numeric]
    kind = "ple"
    [arms.ple.model.tokenizer.numeric.ple]
    bins = 16

Each arm sits at the nesting of a neural search-space file and sets only keys under the
``factor``; it is merged into the study's base configuration when the study runs
(`harness.studies.arms`). Two optional top-level keys::

    curves = true                               # the section shows learning curves

    [all.train]                                 # what every arm shares, outside the factor
    max_epochs = 4
    patience = 4
    evals_per_epoch = 4

``[all]`` is a partial config tree like an arm's, constants only, with no key under the
factor: it is merged into the base before each arm (base, then ``[all]``, then the arm), so the
settings a study needs (more epochs, scores within each epoch) are stated once and are not the
factor. ``curves = true`` adds the learning curves to the study's section: per arm the best
point of the validation AUC, the AUC at the end and the drop between them, and a plot of the
curves (`harness.leaderboard.curves`). It is a flag rather than derived from
``train.evals_per_epoch``: one score per epoch is a curve too. Every mistake (an unknown key or
kind, a searched value, a key outside the factor or, in ``[all]``, inside it, invalid TOML) is a
one-line `HarnessError` naming the file, the arm (or ``[all]``) and the key, checked against the
parts registered now: the file names no kinds of its own.

Files are looked up like models: ``<--search-spaces>/studies`` when that option is given, then
``./search_spaces/studies`` (your own), then the shipped ones.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness.errors import HarnessError
from harness.paths import first_in, lookup_folders, names_in
from harness.studies.trees import merge_tree
from harness.tuning.space import space_from_mapping

__all__ = [
    "STUDY_FAMILY",
    "Arm",
    "StudyFile",
    "available_studies",
    "find_study",
    "load_studies",
    "load_study",
    "study_dirs",
    "study_files_of",
]

# Studies vary the parts of a neural ranker: arms are checked against this family's config.
STUDY_FAMILY = "neural"
_KEYS = ("description", "factor", "curves", "all", "arms")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class Arm:
    """One arm of a study: its name and the partial config tree it sets (read-only).

    Attributes:
        name: the arm's key in the file (a leaderboard row of the study's section).
        tree: nested tables in the layout of a search-space file, every value a constant.
        settings: each value it sets, ``dotted.key = value``, in file order (for reading).
    """

    name: str
    tree: Mapping[str, Any]
    settings: tuple[str, ...]


def _no_tree() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class StudyFile:
    """A validated study file.

    Attributes:
        name: the study's name (the file's stem): ``--study NAME`` and the rows' ``factor_study``.
        path: the file (for messages).
        description: what the study asks, one line.
        factor: the dotted keys its arms may set (``model.tokenizer.numeric``).
        arms: the arms, in file order.
        shared: the ``[all]`` table, merged into the base before each arm (read-only; empty:
            none).
        shared_settings: each value ``[all]`` sets, ``dotted.key = value``, in file order.
        curves: whether the study's section shows learning curves (``curves = true``).
    """

    name: str
    path: str
    description: str
    factor: tuple[str, ...]
    arms: tuple[Arm, ...]
    shared: Mapping[str, Any] = field(default_factory=_no_tree)
    shared_settings: tuple[str, ...] = ()
    curves: bool = False

    def __post_init__(self) -> None:
        if not self.arms:
            raise ValueError(f"a study needs at least one arm, got {self.arms=}")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be distinct, got {names}")

    @property
    def factor_text(self) -> str:
        return ", ".join(self.factor)


def study_dirs(search_spaces: Path | None = None) -> list[Path]:
    """Where study files are looked for, first match wins (see the module docstring)."""
    folders = [search_spaces / "studies"] if search_spaces is not None else []
    return folders + [f for f in lookup_folders("search_spaces/studies") if f not in folders]


def available_studies(folders: Sequence[Path]) -> tuple[str, ...]:
    """The study names (file stems) in the lookup folders, sorted."""
    return names_in(folders)


def find_study(name: str, folders: Sequence[Path]) -> Path | None:
    """The first ``<name>.toml`` in the lookup folders."""
    return first_in(name, folders)


def load_studies(names: Sequence[str], folders: Sequence[Path]) -> list[StudyFile]:
    """The validated study file of each name (duplicates dropped, order kept).

    Raises:
        HarnessError: no names, a name without a file (listing the studies there), or a file's
            mistake.
    """
    valid = ", ".join(available_studies(folders)) or "none"
    if not names:
        raise HarnessError(f"--study is empty; studies: {valid}")
    studies = []
    for name in dict.fromkeys(names):
        path = find_study(name, folders)
        if path is None:
            guess = difflib.get_close_matches(name, available_studies(folders), n=1)
            hint = f"did you mean {guess[0]!r}? " if guess else ""
            where = ", ".join(map(str, folders))
            raise HarnessError(
                f"no study {name!r}: no {name}.toml in {where}; {hint}studies: {valid}"
            )
        studies.append(load_study(path))
    return studies


def study_files_of(names: Iterable[str], folders: Sequence[Path]) -> dict[str, StudyFile]:
    """The files of the named studies that load now (for a leaderboard's descriptions); a
    study whose file is gone or no longer loads is left out (its section goes without them)."""
    files = {}
    for name in names:
        path = find_study(name, folders)
        if path is not None:
            try:
                files[name] = load_study(path)
            except HarnessError:
                continue
    return files


def load_study(path: str | Path) -> StudyFile:
    """Loads and validates a study file (see the module docstring for the format).

    Raises:
        HarnessError: one line naming the file, the arm and the key.
    """
    path = Path(path)
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{where}: study file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise HarnessError(f"{where}: not valid TOML: {' '.join(str(e).split())}") from None
    for key in raw:
        if key not in _KEYS:
            guess = difflib.get_close_matches(key, _KEYS, n=1)
            hint = f"did you mean {guess[0]!r}? " if guess else ""
            raise HarnessError(
                f"{where}: {key}: unknown key; {hint}a study file has {', '.join(_KEYS)} "
                "(an arm is a table under [arms.NAME])"
            )
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise HarnessError(f"{where}: description: must be a string, got {description!r}")
    factor = _factor(where, raw.get("factor"))
    curves = raw.get("curves", False)
    if not isinstance(curves, bool):
        raise HarnessError(f"{where}: curves: must be true or false, got {curves!r}")
    shared, shared_settings = _shared(where, raw.get("all", {}), factor)
    arms = raw.get("arms")
    if not isinstance(arms, dict) or not arms:
        raise HarnessError(
            f"{where}: arms: missing or empty; each arm is a table, e.g. "
            '[arms.log1p.model.tokenizer.numeric] kind = "log1p"'
        )
    return StudyFile(
        name=path.stem,
        path=where,
        description=" ".join(description.split()),
        factor=factor,
        arms=tuple(_arm(where, name, tree, factor, shared) for name, tree in arms.items()),
        shared=_frozen(shared),
        shared_settings=shared_settings,
        curves=curves,
    )


def _factor(where: str, raw: Any) -> tuple[str, ...]:
    keys = [raw] if isinstance(raw, str) else raw
    if not isinstance(keys, list) or not keys:
        raise HarnessError(
            f"{where}: factor: missing; the dotted key the arms vary, e.g. factor = "
            f'"model.tokenizer.numeric" (or a list of them), got {raw!r}'
        )
    for key in keys:
        if not isinstance(key, str) or not _DOTTED.fullmatch(key):
            raise HarnessError(f"{where}: factor: {key!r} is not a dotted key (model.tokenizer)")
    return tuple(keys)


def _shared(
    where: str, tree: Any, factor: tuple[str, ...]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The ``[all]`` table, checked like an arm, and what it sets (nothing under the factor)."""
    at = f"{where}: [all]"
    if not isinstance(tree, dict):
        raise HarnessError(f"{at}: must be a table ([all.train] ...), got {tree!r}")
    _check_tree(at, tree, name="all", what="[all]")
    settings = []
    for key, value in _leaves(tree):
        if _in_factor(key, factor):
            raise HarnessError(
                f"{at}: {key}: inside the study's factor ({', '.join(factor)}); [all] holds what "
                "every arm shares, the arms set the factor"
            )
        settings.append(f"{key} = {_show(value)}")
    return tree, tuple(settings)


def _arm(
    where: str, name: str, tree: Any, factor: tuple[str, ...], shared: Mapping[str, Any]
) -> Arm:
    at = f"{where}: arm {name!r}"
    if not _NAME.fullmatch(name):
        raise HarnessError(
            f"{where}: arms.{name}: an arm's name is letters, digits and _ . + - (quote a "
            'name with a dot: [arms."hashing-0.25"...]; it is a row of the leaderboard)'
        )
    if not isinstance(tree, dict):
        raise HarnessError(f"{at}: must be a table ([arms.{name}...]), got {tree!r}")
    # The arm over [all] (the arm alone when there is none), over the config's defaults.
    _check_tree(at, merge_tree(shared, tree) if shared else tree, name=name, what="an arm")
    settings = []
    for key, value in _leaves(tree):
        if not _in_factor(key, factor):
            raise HarnessError(
                f"{at}: {key}: outside the study's factor ({', '.join(factor)}); an arm changes "
                "the factor only"
            )
        settings.append(f"{key} = {_show(value)}")
    return Arm(name=name, tree=_frozen(tree), settings=tuple(settings))


def _check_tree(at: str, tree: Mapping[str, Any], *, name: str, what: str) -> None:
    """Unknown keys and kinds, values the config rejects, searched specs, over the config's
    defaults (against the data, merged into the base, an arm is checked again)."""
    for key in ("family", "description"):
        if key in tree:
            raise HarnessError(f"{at}: {key}: {what} sets config keys only (the preset is fixed)")
    space = space_from_mapping(
        {"family": STUDY_FAMILY, **tree}, name=name, where=at, family=STUDY_FAMILY
    )
    if space.params:
        raise HarnessError(
            f"{at}: {space.params[0].name}: {what} holds constants only (a study compares its "
            "arms; a search-space file searches)"
        )


def _in_factor(key: str, factor: tuple[str, ...]) -> bool:
    return any(key == f or key.startswith(f"{f}.") for f in factor)


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted key, value)`` of every value in the tree (a spec table counts as a value)."""
    for key, value in tree.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and not _is_spec(value):
            yield from _leaves(value, dotted)
        else:
            yield dotted, value


def _is_spec(table: Mapping[str, Any]) -> bool:
    return any(k in table for k in ("float", "int", "choice"))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _frozen(value: Any) -> Any:
    """Tables as read-only mappings, lists as tuples (`harness.studies.arms` thaws them)."""
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value
