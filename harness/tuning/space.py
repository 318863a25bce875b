"""Search spaces: TOML files whose tables mirror a config tree, sampled define-by-run by Optuna.

A file names the family that trains it and, at the same nesting as the family's config
dataclasses, a constant or a search spec for each field it sets (a field it does not mention
keeps its default)::

    family = "neural"                    # the trainer (lightgbm, catboost, neural)
    description = "DCN-v2: cross network then MLP"

    [model.tokenizer]
    embedding_dim = { choice = [16, 32, 64] }   # searched
    [model.interaction]
    kind = { choice = ["cross", "fm"] }         # a part chosen by registered name
    [model.interaction.cross]                   # sampled only when kind = "cross"
    layers = { int = [1, 4] }
    rank = 0                                    # constant
    [train]
    learning_rate = { float = [3e-4, 3e-3], log = true }

Spec forms: ``{ float = [low, high] }``, ``{ int = [low, high] }`` (each with optional
``log = true`` or ``step = s``), ``{ choice = [...] }`` (a choice may be a list, such as MLP widths;
Optuna then samples its JSON label ``"[512, 256]"``). A field whose declared type is a registry's
base class (``InteractionConfig``, ...) is a *slot*: its table holds ``kind`` (a registered name,
constant or a choice) and one sub-table per kind. Parameters are named by their dotted path
(``model.interaction.cross.layers``) in Optuna, the results table and the dashboard.

The file is the one source of truth: `SearchSpace.sample` asks Optuna for exactly the
parameters on the path the trial takes, and `SearchSpace.build_config` rebuilds the same typed
config from a trial's stored parameters. Every mistake (unknown key, bad spec, a kind that is not
registered, a sub-table of a kind that can never be chosen, a value the config rejects at an end
of a range, invalid TOML) is a one-line `HarnessError` naming the file and the dotted key;
`SearchSpace.check` then builds configurations at the corners of the space (every range end, every
choice) with a caller's check, so that the dataset's schema rejects an impossible rank or width
before any trial runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import json
import math
import tomllib
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from harness.errors import HarnessError
from harness.registry import PartConfig, Registry

__all__ = [
    "ChoiceParam",
    "Const",
    "FloatParam",
    "IntParam",
    "Param",
    "SearchSpace",
    "SuggestsParams",
    "config_to_dict",
    "load_search_space",
    "space_from_mapping",
]

Primitive = str | int | float | bool
_RESERVED = ("family", "description")


class SuggestsParams(Protocol):
    """The part of ``optuna.Trial`` a space uses (Ray's trial wrapper offers it too)."""

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = ..., log: bool = ...
    ) -> float: ...

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = ..., log: bool = ...
    ) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


# --- leaves ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FloatParam:
    """A float sampled in ``[low, high]`` (log-uniformly when ``log``)."""

    name: str
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def suggest(self, trial: SuggestsParams) -> float:
        if self.step is None:
            return trial.suggest_float(self.name, self.low, self.high, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step)

    def ends(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def decode(self, label: Any) -> float:
        ok = isinstance(label, int | float) and not isinstance(label, bool)
        if not ok or not self.low <= label <= self.high:
            raise ValueError(f"{self.name}: {label!r} is outside [{self.low}, {self.high}]")
        return float(label)


@dataclass(frozen=True)
class IntParam:
    """An int sampled in ``[low, high]`` (log-uniformly when ``log``)."""

    name: str
    low: int
    high: int
    log: bool = False
    step: int = 1

    def suggest(self, trial: SuggestsParams) -> int:
        return trial.suggest_int(self.name, self.low, self.high, step=self.step, log=self.log)

    def ends(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def decode(self, label: Any) -> int:
        ok = isinstance(label, int) and not isinstance(label, bool)
        if not ok or not self.low <= label <= self.high:
            raise ValueError(
                f"{self.name}: {label!r} is not an integer in [{self.low}, {self.high}]"
            )
        return int(label)


@dataclass(frozen=True)
class ChoiceParam:
    """One of ``values``; Optuna samples ``labels`` (primitives), ``decode`` maps them back.

    A list value such as ``[512, 256]`` gets the label ``"[512, 256]"`` (its JSON) and decodes
    to the tuple ``(512, 256)``; a primitive value is its own label.
    """

    name: str
    values: tuple[Any, ...]
    labels: tuple[Primitive, ...]

    def suggest(self, trial: SuggestsParams) -> Primitive:
        return typing.cast(Primitive, trial.suggest_categorical(self.name, list(self.labels)))

    def decode(self, label: Any) -> Any:
        """The value of a sampled label (a decoded value is accepted as itself)."""
        for lab, value in zip(self.labels, self.values, strict=True):
            if type(lab) is type(label) and lab == label:
                return value
        as_value = _freeze(label)
        for value in self.values:  # a decoded value (a tuple for a list choice), same type
            if type(value) is type(as_value) and value == as_value:
                return value
        raise ValueError(f"{self.name}: {label!r} is not one of the choices {list(self.labels)}")

    def ends(self) -> tuple[Any, ...]:
        return self.values

    def label_of(self, value: Any) -> Primitive:
        return self.labels[self.values.index(value)]


@dataclass(frozen=True)
class Const:
    """A value every trial gets."""

    name: str
    value: Any


Param = FloatParam | IntParam | ChoiceParam
Leaf = Const | FloatParam | IntParam | ChoiceParam


# --- the tree --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Struct:
    """A dataclass and the fields the file sets (the others keep their defaults)."""

    cls: type[Any]
    path: str
    fields: tuple[tuple[str, Node], ...]


@dataclass(frozen=True)
class _Slot:
    """A polymorphic field: ``kind`` (constant or choice) picks which option's struct to build."""

    path: str
    registry: Registry[Any]
    kind: Const | ChoiceParam
    options: tuple[tuple[str, _Struct], ...]

    def option(self, kind: str) -> _Struct:
        for name, struct in self.options:
            if name == kind:
                return struct
        return _Struct(self.registry.get(kind), _join(self.path, kind), ())


Node = _Struct | _Slot | Leaf

# An answer gives the value of one parameter (sampled, replayed, or at a corner of the space).
Answer = Callable[[Param], Any]


# An answer that leaves a field out (its dataclass default applies): `SearchSpace.defaults`.
_DEFAULT = object()


def _resolve(node: _Struct, answer: Answer) -> Any:
    values = {name: _value(child, answer) for name, child in node.fields}
    values = {name: v for name, v in values.items() if v is not _DEFAULT}
    hints = _field_hints(node.cls)
    try:
        return node.cls(**{k: _coerce(v, hints.get(k)) for k, v in values.items()})
    except (TypeError, ValueError) as e:
        raise _BuildError(node.path, _one_line(e)) from None


def _value(node: Node, answer: Answer) -> Any:
    if isinstance(node, Const):
        return node.value
    if isinstance(node, FloatParam | IntParam | ChoiceParam):
        return answer(node)
    if isinstance(node, _Struct):
        return _resolve(node, answer)
    kind = node.kind.value if isinstance(node.kind, Const) else answer(node.kind)
    return _resolve(node.option(str(kind)), answer)


class _BuildError(Exception):
    """A config rejected its values; ``path`` is the dotted table whose dataclass failed."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space: which family trains it, and the tree of constants and specs.

    Attributes:
        name: the model name (the file's stem, e.g. ``dcnv2``): a leaderboard row and a study.
        family: the trainer (``lightgbm``, ``catboost``, ``neural``).
        path: the file it was loaded from (for messages).
        config_type: the family's frozen config dataclass.
        description: the file's ``description`` ("" when none).
        fingerprint: a digest of everything in the file that changes trials (not comments, not
            the description): results from an edited file never mix with older ones.
    """

    name: str
    family: str
    path: str
    config_type: type[Any]
    root: _Struct
    description: str = ""
    fingerprint: str = ""

    def sample(self, trial: SuggestsParams) -> tuple[Any, dict[str, Primitive]]:
        """Samples a trial's parameters (define-by-run) and builds its config.

        Returns:
            The typed config and ``{dotted name: sampled label}`` (JSON-ready primitives).

        Raises:
            ValueError: the config rejects the sampled combination.
        """
        labels: dict[str, Primitive] = {}

        def ask(p: Param) -> Any:
            label = p.suggest(trial)
            labels[p.name] = label
            return p.decode(label)

        try:
            return _resolve(self.root, ask), labels
        except _BuildError as e:
            raise ValueError(f"{self.path}: {e.path or '(top level)'}: {e.message}") from None

    def suggest(self, trial: SuggestsParams) -> dict[str, Primitive]:
        """Samples a trial's parameters only (see `sample`); what Optuna stores for the trial."""
        labels: dict[str, Primitive] = {}

        def ask(p: Param) -> Any:
            labels[p.name] = p.suggest(trial)
            return p.decode(labels[p.name])

        with contextlib.suppress(_BuildError):  # the trial itself reports a rejected combination
            _resolve(self.root, ask)
        return labels

    def build_config(self, params: Mapping[str, Any]) -> Any:
        """The typed config of a trial's stored parameters (``{dotted name: label}``).

        Raises:
            ValueError: a parameter is missing, not on the path these parameters take, out of
                its range, or the config rejects the combination.
        """
        used: set[str] = set()

        def replay(p: Param) -> Any:
            if p.name not in params:
                raise ValueError(f"{self.path}: parameter {p.name} is missing")
            used.add(p.name)
            return p.decode(params[p.name])

        try:
            config = _resolve(self.root, replay)
        except _BuildError as e:
            raise ValueError(f"{self.path}: {e.path or '(top level)'}: {e.message}") from None
        unknown = sorted(set(params) - used)
        if unknown:
            raise ValueError(
                f"parameters not on the path these parameters take through {self.path} "
                f"(or not in it at all): {unknown}"
            )
        return config

    def config_at(self, values: Mapping[str, Any]) -> Any:
        """The config with ``values`` (``{dotted name: value}``) and every other parameter at
        its low end or first choice: a fixed, named point of the space (benchmarks, tests).

        Raises:
            ValueError: a name that is no parameter of the space, a value outside its range or
                choices, or a combination the config rejects.
        """
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            raise ValueError(f"parameters not in the search space {self.path}: {unknown}")

        def pick(p: Param) -> Any:
            if p.name not in values:
                return p.ends()[0]
            value = values[p.name]
            if isinstance(p, ChoiceParam):
                return p.decode(p.label_of(_coerce_like(value, p.values)))
            return p.decode(value)

        try:
            return _resolve(self.root, pick)
        except _BuildError as e:
            raise ValueError(f"{self.path}: {e.path or '(top level)'}: {e.message}") from None

    def defaults(self) -> Any:
        """The config of the file's constants alone: every searched field keeps its config's
        default, and a part whose ``kind`` is searched is its first choice (the base of a factor
        study on a preset that has no search yet).

        Raises:
            ValueError: the config rejects the combination.
        """
        kinds = {leaf.name for leaf in _slot_kinds(self.root)}

        def default(p: Param) -> Any:
            return p.ends()[0] if p.name in kinds else _DEFAULT

        try:
            return _resolve(self.root, default)
        except _BuildError as e:
            raise ValueError(f"{self.path}: {e.path or '(top level)'}: {e.message}") from None

    @property
    def params(self) -> tuple[Param, ...]:
        """Every searched parameter in the file, in file order (on any path)."""
        return tuple(p for p in _leaves(self.root) if not isinstance(p, Const))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def corners(self) -> Iterator[tuple[str, Any]]:
        """``(what, config)`` at the corners of the space, each distinct config once.

        Every parameter at its low end (first choice), then each parameter at each of its ends
        or choices with the others low; then every parameter at its high end (last choice), then
        each parameter at each of its ends or choices with the others high. A config the low pass
        already gave is not repeated, so a value that fails at the all-high corner is first met
        (and reported) with its own key. A parameter inside a slot's option is varied with the
        kinds that lead to it held, so every option's sub-table is reached.

        Raises:
            HarnessError: a corner the config itself rejects, naming the file and the key.
        """
        kinds = {leaf.name for leaf in _slot_kinds(self.root)}
        seen: set[str] = set()
        found: dict[str, Param] = {}
        # The slot kinds answered before a parameter was first met: its path through the tree.
        context: dict[str, dict[str, Any]] = {}

        def at(pick: int, override: Mapping[str, Any]) -> Answer:
            held: dict[str, Any] = {}

            def corner(p: Param) -> Any:
                if p.name not in found:
                    found[p.name] = p
                    context[p.name] = dict(held)
                value = override[p.name] if p.name in override else p.ends()[pick]
                if p.name in kinds:
                    held[p.name] = value
                return value

            return corner

        def visit(pick: int, override: Mapping[str, Any], what: str) -> Iterator[tuple[str, Any]]:
            config = self._corner(at(pick, override), what, pick)
            key = repr(config)
            if key not in seen:
                seen.add(key)
                ends = "low" if pick == 0 else "high"
                shown = f"{what} (others {ends})" if what else f"every parameter at its {ends} end"
                yield shown, config

        for pick in (0, -1):
            yield from visit(pick, {}, "")
            done: set[str] = set()
            while pending := [name for name in found if name not in done]:
                for name in pending:
                    done.add(name)
                    for value in found[name].ends():
                        override = {**context[name], name: value}
                        yield from visit(pick, override, f"{name} = {_show_value(value)}")

    def _corner(self, answer: Answer, what: str, pick: int) -> Any:
        try:
            return _resolve(self.root, answer)
        except _BuildError as e:
            ends = "low" if pick == 0 else "high"
            if what:
                name, _, value = what.partition(" = ")
                raise HarnessError(
                    f"{self.path}: {name}: the config rejects {value} (with the other parameters "
                    f"at their {ends} ends): {e.path or '(top level)'}: {e.message}"
                ) from None
            where = e.path or "(top level)"
            raise HarnessError(
                f"{self.path}: {where}: {e.message} (every parameter at its {ends} end)"
            ) from None

    def check(self, validate: Callable[[Any], None], *, against: str) -> int:
        """Runs ``validate(config)`` at every corner; returns how many configs were checked.

        Args:
            validate: raises ValueError for a config that cannot work (e.g. built against the
                dataset's schema: a rank above the input width).
            against: what ``validate`` checks against, for the message (``"the criteo schema"``).

        Raises:
            HarnessError: one line naming the file, the corner's key and the reason.
        """
        count = 0
        for what, config in self.corners():
            try:
                validate(config)
            except ValueError as e:
                raise HarnessError(
                    f"{self.path}: {what}: impossible for {against}: {_one_line(e)}"
                ) from None
            count += 1
        return count


def _walk(node: Node, *, is_kind: bool = False) -> Iterator[tuple[Leaf, bool]]:
    """Every leaf of the tree in file order, and whether it is a slot's ``kind``."""
    if isinstance(node, _Struct):
        for _, child in node.fields:
            yield from _walk(child)
    elif isinstance(node, _Slot):
        yield from _walk(node.kind, is_kind=True)
        for _, option in node.options:
            yield from _walk(option)
    else:
        yield node, is_kind


def _slot_kinds(node: Node) -> Iterator[Leaf]:
    return (leaf for leaf, is_kind in _walk(node) if is_kind)


def _leaves(node: Node) -> Iterator[Leaf]:
    return (leaf for leaf, _ in _walk(node))


# --- loading ---------------------------------------------------------------------------------


def load_search_space(
    path: str | Path, *, family: str | None = None, config_type: type[Any] | None = None
) -> SearchSpace:
    """Loads and validates a search-space TOML file (see the module docstring for the format).

    Args:
        path: the file; its stem is the model's name.
        family: the family the caller expects; a file for another family is an error.
        config_type: the config dataclass to validate against; by default the registered
            family's ``config_type``.

    Raises:
        HarnessError: one line naming the file and the offending key.
    """
    path = Path(path)
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{where}: search-space file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise HarnessError(f"{where}: not valid TOML: {_one_line(e)}") from None
    return space_from_mapping(
        raw, name=path.stem, where=where, family=family, config_type=config_type
    )


def space_from_mapping(
    raw: Mapping[str, Any],
    *,
    name: str,
    where: str,
    family: str | None = None,
    config_type: type[Any] | None = None,
) -> SearchSpace:
    """A `SearchSpace` from parsed TOML (or a resolved config from `config_to_dict`).

    Raises:
        HarnessError: as `load_search_space`, naming ``where``.
    """
    declared = raw.get("family")
    if not isinstance(declared, str):
        raise HarnessError(f'{where}: family: missing or not a string (e.g. family = "lightgbm")')
    if family is not None and declared != family:
        raise HarnessError(f"{where}: family: the file is for {declared!r}, expected {family!r}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise HarnessError(f"{where}: description: must be a string, got {description!r}")
    if config_type is None:
        from harness.families.registry import get_family  # the registry turns names into objects

        try:
            config_type = get_family(declared).config_type
        except HarnessError as e:
            raise HarnessError(f"{where}: family: {e}") from None
    body = {k: v for k, v in raw.items() if k not in _RESERVED}
    fields = {f.name for f in dataclasses.fields(config_type) if f.init}
    legacy = sorted({"search", "fixed"} & set(body) - fields)
    if legacy:
        raise HarnessError(
            f"{where}: [{legacy[0]}]: [search] and [fixed] tables are the old format; write each "
            "parameter where it sits in the config, a constant as `key = value` and a searched "
            "one as `key = { float = [low, high] }` (see search_spaces/lightgbm.toml)"
        )
    root = _parse_struct(where, "", config_type, body, declared)
    fingerprint = hashlib.sha256(
        json.dumps({"family": declared, "config": body}, sort_keys=True, default=str).encode()
    ).hexdigest()[:12]
    space = SearchSpace(
        name=name,
        family=declared,
        path=where,
        config_type=config_type,
        root=root,
        description=description,
        fingerprint=fingerprint,
    )
    for _ in space.corners():  # a value the config rejects at an end of a range fails now
        pass
    return space


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _parse_struct(
    where: str, path: str, cls: type[Any], table: Mapping[str, Any], family: str
) -> _Struct:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = _field_hints(cls)
    nodes: list[tuple[str, Node]] = []
    for key, raw in table.items():
        dotted = _join(path, key)
        if key not in fields:
            guess = difflib.get_close_matches(key, sorted(fields), n=1)
            suggestion = f"did you mean {guess[0]!r}? " if guess else ""
            owner = f"for {family}" if not path else f"in [{path}]"
            raise HarnessError(
                f"{where}: {dotted}: unknown parameter {owner}; {suggestion}"
                f"(valid: {', '.join(sorted(fields))})"
            )
        hint = hints.get(key)
        registry = Registry.of(hint)
        if registry is not None:
            default = _default_of(fields[key])
            nodes.append((key, _parse_slot(where, dotted, registry, raw, default, family)))
        elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if not isinstance(raw, dict):
                raise HarnessError(f"{where}: {dotted}: must be a table ([{dotted}]), got {raw!r}")
            nodes.append((key, _parse_struct(where, dotted, hint, raw, family)))
        else:
            nodes.append((key, _parse_leaf(where, dotted, raw, hint)))
    return _Struct(cls, path, tuple(nodes))


def _default_of(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _parse_slot(
    where: str, path: str, registry: Registry[Any], table: Any, default: Any, family: str
) -> _Slot:
    names = registry.names
    if not isinstance(table, dict):
        raise HarnessError(
            f"{where}: {path}: must be a table with kind = one of {', '.join(names)}, got {table!r}"
        )
    raw_kind = table.get("kind", default.kind if isinstance(default, PartConfig) else None)
    at = f"{where}: {_join(path, 'kind')}"
    kind: Const | ChoiceParam
    if raw_kind is None:
        raise HarnessError(f"{at}: missing; one of {', '.join(names)}")
    if isinstance(raw_kind, str):
        if raw_kind not in registry:
            raise HarnessError(f"{at}: {_unknown_kind(registry, raw_kind)}")
        kind = Const(_join(path, "kind"), raw_kind)
        chosen: tuple[str, ...] = (raw_kind,)
    else:
        choice = _parse_leaf(where, _join(path, "kind"), raw_kind, str)
        if not isinstance(choice, ChoiceParam):
            raise HarnessError(f'{at}: a registered name ("cross") or {{ choice = [...] }}')
        for value in choice.values:
            if value not in registry:
                raise HarnessError(f"{at}: {_unknown_kind(registry, value)}")
        kind, chosen = choice, tuple(str(v) for v in choice.values)
    options: list[tuple[str, _Struct]] = []
    for key, sub in table.items():
        if key == "kind":
            continue
        if key not in registry:
            raise HarnessError(
                f"{where}: {_join(path, key)}: {_unknown_kind(registry, key)} (a slot's table "
                "holds kind and one sub-table per kind)"
            )
        if key not in chosen:
            shown = f"kind is {chosen[0]!r}" if len(chosen) == 1 else f"kind is one of {chosen}"
            raise HarnessError(f"{where}: {_join(path, key)}: never used, since {shown}")
        if not isinstance(sub, dict):
            raise HarnessError(f"{where}: {_join(path, key)}: must be a table, got {sub!r}")
        options.append(
            (key, _parse_struct(where, _join(path, key), registry.get(key), sub, family))
        )
    return _Slot(path, registry, kind, tuple(options))


def _unknown_kind(registry: Registry[Any], name: Any) -> str:
    guess = difflib.get_close_matches(str(name), registry.names, n=1)
    hint = f"did you mean {guess[0]!r}? " if guess else ""
    return f"unknown {registry.kind} {name!r}; {hint}valid: {', '.join(registry.names)}"


_SPEC_KINDS = ("float", "int", "choice")
_SPEC_OPTIONS = ("log", "step")


def _parse_leaf(where: str, name: str, raw: Any, hint: Any) -> Leaf:
    at = f"{where}: {name}"
    if not isinstance(raw, dict):
        if not _conforms(raw, hint):
            raise HarnessError(f"{at}: {raw!r} does not fit the field (it takes {_show(hint)})")
        return Const(name, _coerce(raw, hint))
    for key in raw:
        if key not in _SPEC_KINDS + _SPEC_OPTIONS:
            guess = difflib.get_close_matches(key, _SPEC_KINDS + _SPEC_OPTIONS, n=1)
            hint_text = f" (did you mean {guess[0]!r}?)" if guess else ""
            raise HarnessError(
                f"{at}: unknown spec key {key!r}{hint_text}; a searched value is "
                "{ float = [low, high] }, { int = [low, high] } (optional log, step) or "
                "{ choice = [...] }"
            )
    kinds = [k for k in _SPEC_KINDS if k in raw]
    if len(kinds) != 1:
        raise HarnessError(f"{at}: give exactly one of float, int, choice; got {kinds or 'none'}")
    kind = kinds[0]
    if kind == "choice":
        return _parse_choice(at, name, raw, hint)
    return _parse_range(at, name, kind, raw, hint)


def _parse_range(at: str, name: str, kind: str, spec: dict[str, Any], hint: Any) -> Param:
    bounds = spec[kind]
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise HarnessError(f"{at}: log must be true or false, got {log!r}")
    if not (isinstance(bounds, list) and len(bounds) == 2):
        raise HarnessError(f"{at}: {kind} must be [low, high], got {bounds!r}")
    number: tuple[type, ...] = (int,) if kind == "int" else (int, float)
    if not all(isinstance(b, number) and not isinstance(b, bool) for b in bounds):
        raise HarnessError(f"{at}: {kind} bounds must be {kind}s, got {bounds!r}")
    low: Any = bounds[0]
    high: Any = bounds[1]
    if kind == "float" and not all(math.isfinite(b) for b in bounds):
        raise HarnessError(f"{at}: bounds must be finite, got {bounds!r}")
    if low > high:
        raise HarnessError(f"{at}: inverted range [{low}, {high}] (low > high)")
    if low == high:
        raise HarnessError(f"{at}: empty range [{low}, {high}]; write the constant instead")
    if log and low <= 0:
        raise HarnessError(f"{at}: a log range needs low > 0, got [{low}, {high}]")
    if kind == "int" and hint is not None and not _conforms(low, hint):
        raise HarnessError(f"{at}: an int range does not fit the field (it takes {_show(hint)})")
    if kind == "float" and hint is not None and not _conforms(float(low), hint):
        raise HarnessError(
            f"{at}: a float range does not fit the field (it takes {_show(hint)})"
            + ("; use { int = [...] }" if _conforms(1, hint) else "")
        )
    step: Any = spec.get("step")
    if step is not None:
        if log:
            raise HarnessError(f"{at}: step and log cannot be combined (an Optuna restriction)")
        ok = isinstance(step, int | float) and not isinstance(step, bool)
        if not ok or (kind == "int" and not isinstance(step, int)) or step <= 0:
            raise HarnessError(f"{at}: step must be a positive {kind}, got {step!r}")
    if kind == "int":
        return IntParam(name, int(low), int(high), log=log, step=int(step or 1))
    return FloatParam(
        name, float(low), float(high), log=log, step=None if step is None else float(step)
    )


def _parse_choice(at: str, name: str, spec: dict[str, Any], hint: Any) -> ChoiceParam:
    extra = sorted(set(spec) - {"choice"})
    if extra:
        raise HarnessError(f"{at}: {extra[0]} does not apply to a choice")
    choices = spec["choice"]
    if not isinstance(choices, list):
        raise HarnessError(f"{at}: choice must be a list, got {choices!r}")
    if not choices:
        raise HarnessError(f"{at}: empty choice list")
    values = tuple(_coerce(c, hint) for c in choices)
    labels = tuple(_label(c) for c in choices)
    if len(set(labels)) != len(labels) or len(set(map(repr, values))) != len(values):
        raise HarnessError(f"{at}: repeated choice in {choices!r}")
    for c in choices:
        if isinstance(c, dict):
            raise HarnessError(f"{at}: a choice cannot be a table, got {c!r}")
        if hint is not None and not _conforms(c, hint):
            raise HarnessError(
                f"{at}: choice {c!r} does not fit the field (it takes {_show(hint)})"
            )
    return ChoiceParam(name, values=values, labels=labels)


def _coerce_like(value: Any, values: tuple[Any, ...]) -> Any:
    """``value`` as the choices store it (lists as tuples, ints as floats where they are)."""
    frozen = _freeze(value)
    for v in values:
        if v == frozen:
            return v
    raise ValueError(f"{value!r} is not one of the choices {list(values)}")


def _label(value: Any) -> Primitive:
    if isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value)


def _freeze(value: Any) -> Any:
    """TOML lists become tuples (hashable, and what tuple config fields expect)."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


# --- resolved configs as data -----------------------------------------------------------------


def config_to_dict(config: Any) -> dict[str, Any]:
    """A resolved config as nested plain data, in the layout of a search-space file.

    Slots become ``{"kind": name, name: {fields}}`` and tuples lists, so that
    ``space_from_mapping({"family": f, **config_to_dict(c)}, ...)`` rebuilds exactly ``c``
    (every value a constant): a results row's config can be re-run as it is.
    """
    out: dict[str, Any] = {}
    hints = _field_hints(type(config))
    for f in dataclasses.fields(config):
        if not f.init:
            continue
        value = getattr(config, f.name)
        if Registry.of(hints.get(f.name)) is not None:
            out[f.name] = {"kind": value.kind, value.kind: config_to_dict(value)}
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[f.name] = config_to_dict(value)
        else:
            out[f.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# --- field types ---------------------------------------------------------------------------


def _field_hints(config_type: type[Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(config_type)
    except Exception:  # an unresolvable annotation: skip type checks rather than fail
        return {}


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a TOML value fits a dataclass field annotation (unknown annotations pass)."""
    if hint is None or hint is Any:
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        return any(type(value) is type(a) and value == a for a in args)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(v, args[0]) for v in value)
        return len(args) == len(value) and all(
            _conforms(v, a) for v, a in zip(value, args, strict=True)
        )
    return True


def _coerce(value: Any, hint: Any) -> Any:
    """An int for a float field becomes a float (also inside tuples); lists become tuples."""
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typing.get_origin(hint) is tuple and isinstance(value, list | tuple):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0]) for v in value)
    return _freeze(value)


def _show(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) is None and isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def _show_value(value: Any) -> str:
    return json.dumps(_plain(value)) if isinstance(value, tuple) else repr(value)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())
