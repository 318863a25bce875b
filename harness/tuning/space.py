"""Search spaces: one TOML file per model family, validated at load time, sampled by Optuna.

A file looks like::

    family = "lightgbm"
    [search]                                   # what Optuna samples (define-by-run)
    learning_rate = { float = [0.02, 0.3], log = true }
    num_leaves = { int = [15, 255], log = true }
    categorical = { choice = ["numeric", "native"] }
    mlp_dims = { choice = [[512, 256], [256, 128]] }   # list choices are fine
    [fixed]                                    # constants every trial gets
    n_estimators = 2000

Every key names a field of the family's config dataclass; a field in neither table keeps the
dataclass default. ``SearchSpace.suggest`` samples a trial's parameters (Optuna primitives: a
list choice is sampled as its JSON label such as ``"[512, 256]"``) and ``build_config`` turns
those parameters back into the typed config, so the space is the one source of truth for both.

Any mistake in a file (unknown parameter, empty, inverted or non-positive log range, empty or
repeated choices, a misspelt spec, a key in both tables, a wrong family, invalid TOML, a value
the config rejects at either end of a range) is a one-line ``HarnessError`` naming the file and
the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from harness.errors import HarnessError

__all__ = [
    "ChoiceParam",
    "FloatParam",
    "IntParam",
    "Param",
    "SearchSpace",
    "SuggestsParams",
    "load_search_space",
]

Primitive = str | int | float | bool


class SuggestsParams(Protocol):
    """The part of ``optuna.Trial`` a space uses (Ray's trial wrapper offers it too)."""

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = ..., log: bool = ...
    ) -> float: ...

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = ..., log: bool = ...
    ) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


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
        if as_value in self.values:
            return as_value
        raise ValueError(f"{self.name}: {label!r} is not one of the choices {list(self.labels)}")

    def ends(self) -> tuple[Any, ...]:
        return self.values


Param = FloatParam | IntParam | ChoiceParam


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space for one family.

    Attributes:
        family: the family name the file declares.
        path: the file it was loaded from (for messages).
        config_type: the family's frozen config dataclass.
        params: what Optuna samples, in file order.
        fixed: constants every trial gets, as ``(name, value)`` pairs.
    """

    family: str
    path: str
    config_type: type[Any]
    params: tuple[Param, ...]
    fixed: tuple[tuple[str, Any], ...] = ()

    def suggest(self, trial: SuggestsParams) -> dict[str, Primitive]:
        """Samples every parameter on an Optuna trial (define-by-run).

        Returns:
            ``{name: value}`` with Optuna primitives (list choices as their labels); JSON-ready.
        """
        return {p.name: p.suggest(trial) for p in self.params}

    def build_config(self, params: Mapping[str, Any]) -> Any:
        """The typed config for sampled ``params``: dataclass defaults, then fixed, then params.

        Raises:
            ValueError: a parameter is not in the space, or the config rejects a value.
        """
        by_name = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(by_name))
        if unknown:
            raise ValueError(f"parameters not in the search space {self.path}: {unknown}")
        values: dict[str, Any] = dict(self.fixed)
        for name, raw in params.items():
            p = by_name[name]
            values[name] = p.decode(raw) if isinstance(p, ChoiceParam) else raw
        hints = _field_hints(self.config_type)
        return self.config_type(**{k: _coerce(v, hints.get(k)) for k, v in values.items()})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)


def load_search_space(
    path: str | Path, *, family: str | None = None, config_type: type[Any] | None = None
) -> SearchSpace:
    """Loads and validates a search-space TOML file.

    Args:
        path: the file.
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

    unknown_top = sorted(set(raw) - {"family", "search", "fixed"})
    if unknown_top:
        raise HarnessError(
            f"{where}: unknown top-level key {unknown_top[0]!r}; "
            'expected family = "...", [search] and [fixed]'
        )
    declared = raw.get("family")
    if not isinstance(declared, str):
        raise HarnessError(f'{where}: family: missing or not a string (e.g. family = "lightgbm")')
    if family is not None and declared != family:
        raise HarnessError(f"{where}: family: the file is for {declared!r}, expected {family!r}")
    if config_type is None:
        from harness.families.registry import get_family  # the registry turns names into objects

        try:
            config_type = get_family(declared).config_type
        except HarnessError as e:
            raise HarnessError(f"{where}: family: {e}") from None

    search = raw.get("search", {})
    fixed = raw.get("fixed", {})
    for table, content in (("search", search), ("fixed", fixed)):
        if not isinstance(content, dict):
            raise HarnessError(f"{where}: {table}: must be a table ([{table}])")
    if not search:
        raise HarnessError(f"{where}: search: no parameters to search")

    fields = {f.name for f in dataclasses.fields(config_type) if f.init}
    hints = _field_hints(config_type)
    for table, content in (("search", search), ("fixed", fixed)):
        for key in content:
            if key not in fields:
                raise HarnessError(f"{where}: [{table}] {key}: {_unknown(key, fields, declared)}")
    both = sorted(set(search) & set(fixed))
    if both:
        raise HarnessError(
            f"{where}: [search] {both[0]}: also in [fixed]; a parameter is searched or fixed"
        )

    params = tuple(_parse_param(where, key, spec, hints.get(key)) for key, spec in search.items())
    for key, value in fixed.items():
        if not _conforms(value, hints.get(key)):
            raise HarnessError(
                f"{where}: [fixed] {key}: {value!r} does not fit the field "
                f"(it takes {_show(hints[key])})"
            )
    space = SearchSpace(
        family=declared,
        path=where,
        config_type=config_type,
        params=params,
        fixed=tuple((k, _freeze(v)) for k, v in fixed.items()),
    )
    _check_buildable(space)
    return space


# --- parsing -------------------------------------------------------------------------------

_SPEC_KINDS = ("float", "int", "choice")
_SPEC_OPTIONS = ("log", "step")


def _parse_param(where: str, key: str, spec: Any, hint: Any) -> Param:
    at = f"{where}: [search] {key}"
    if not isinstance(spec, dict):
        raise HarnessError(
            f"{at}: expected an inline table such as {{ float = [0.01, 0.3] }}, "
            f"{{ int = [1, 8] }} or {{ choice = [...] }}, got {spec!r}"
        )
    for name in spec:
        if name not in _SPEC_KINDS + _SPEC_OPTIONS:
            guess = difflib.get_close_matches(name, _SPEC_KINDS + _SPEC_OPTIONS, n=1)
            hint_text = f" (did you mean {guess[0]!r}?)" if guess else ""
            raise HarnessError(
                f"{at}: unknown spec key {name!r}{hint_text}; "
                "expected one of float, int, choice (with optional log, step)"
            )
    kinds = [k for k in _SPEC_KINDS if k in spec]
    if len(kinds) != 1:
        raise HarnessError(f"{at}: give exactly one of float, int, choice; got {kinds or 'none'}")
    kind = kinds[0]
    if kind == "choice":
        return _parse_choice(at, key, spec, hint)

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
        raise HarnessError(f"{at}: empty range [{low}, {high}]; put a constant in [fixed]")
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
        return IntParam(key, int(low), int(high), log=log, step=int(step or 1))
    return FloatParam(
        key, float(low), float(high), log=log, step=None if step is None else float(step)
    )


def _parse_choice(at: str, key: str, spec: dict[str, Any], hint: Any) -> ChoiceParam:
    extra = sorted(set(spec) - {"choice"})
    if extra:
        raise HarnessError(f"{at}: {extra[0]} does not apply to a choice")
    choices = spec["choice"]
    if not isinstance(choices, list):
        raise HarnessError(f"{at}: choice must be a list, got {choices!r}")
    if not choices:
        raise HarnessError(f"{at}: empty choice list")
    values = tuple(_freeze(c) for c in choices)
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
    return ChoiceParam(key, values=values, labels=labels)


def _label(value: Any) -> Primitive:
    if isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value)


def _freeze(value: Any) -> Any:
    """TOML lists become tuples (hashable, and what tuple config fields expect)."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _check_buildable(space: SearchSpace) -> None:
    """Builds configs at the ends of every range so that a value the config rejects fails now."""

    def build(params: dict[str, Any], key: str | None) -> None:
        try:
            space.build_config(params)
        except (ValueError, TypeError) as e:
            if key is None:
                names = ", ".join(sorted(params)) or "the [fixed] values"
                raise HarnessError(
                    f"{space.path}: [search] {names}: the config rejects this combination: "
                    f"{_one_line(e)}"
                ) from None
            raise HarnessError(
                f"{space.path}: [search] {key}: the config rejects {params[key]!r}: {_one_line(e)}"
            ) from None

    try:
        space.build_config({})
    except (ValueError, TypeError) as e:
        keys = ", ".join(k for k, _ in space.fixed) or "(defaults)"
        raise HarnessError(f"{space.path}: [fixed] {keys}: {_one_line(e)}") from None
    for p in space.params:
        for value in p.ends():
            build({p.name: value}, p.name)
    for pick in (0, -1):
        build({p.name: p.ends()[pick] for p in space.params}, None)


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
    """An int for a float field becomes a float; lists become tuples."""
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return _freeze(value)


def _show(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) is None and isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def _unknown(key: str, fields: set[str], family: str) -> str:
    guess = difflib.get_close_matches(key, sorted(fields), n=1)
    suggestion = f"did you mean {guess[0]!r}? " if guess else ""
    return f"unknown parameter for {family}; {suggestion}(valid: {', '.join(sorted(fields))})"


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())
