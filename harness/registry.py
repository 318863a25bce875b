"""``Registry[C]``: the one place a part's name becomes its typed config class.

Every kind of pluggable part (numeric encoding, interaction, backbone, head, ...) has one
registry. An entry maps a name (``"cross"``) to a frozen config dataclass (``CrossConfig``); the
config builds its module from schema-derived sizes, never from raw ``**kwargs``. A config class
knows its registry's base class, so a search-space file's ``kind = "cross"`` is resolved by
looking up the registry of the field's declared type (`Registry.of`).

A new part is one module with its config and module, plus one ``register`` line.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator
from typing import Any, ClassVar, Generic, TypeVar

from harness.errors import HarnessError

__all__ = ["PartConfig", "Registry"]


@dataclasses.dataclass(frozen=True)
class PartConfig:
    """Base of every registered part config: a frozen dataclass that knows its registered name.

    ``kind`` is set by `Registry.register` on the subclass (``CrossConfig.kind == "cross"``).
    """

    kind: ClassVar[str] = ""
    summary: ClassVar[str] = ""


C = TypeVar("C", bound=PartConfig)


class Registry(Generic[C]):
    """Names -> config classes of one kind of part (e.g. every interaction layer).

    Args:
        kind: what the parts are, for messages (``"interaction"``).
        base: the config base class every entry subclasses; a config field annotated with
            ``base`` is a polymorphic slot that a search space fills by ``kind``.
    """

    _by_base: ClassVar[dict[type, Registry[Any]]] = {}

    def __init__(self, kind: str, base: type[C]) -> None:
        if base in Registry._by_base:
            raise ValueError(f"{base.__name__} already has a registry")
        self.kind = kind
        self.base = base
        self._entries: dict[str, type[C]] = {}
        Registry._by_base[base] = self

    @classmethod
    def of(cls, annotation: Any) -> Registry[Any] | None:
        """The registry whose base class is ``annotation``, or None (not a polymorphic slot)."""
        if isinstance(annotation, type):
            return cls._by_base.get(annotation)
        return None

    def register(self, name: str, config: type[C], summary: str) -> type[C]:
        """Adds ``config`` under ``name``; ``summary`` is the one line ``harness suites`` shows."""
        if not (dataclasses.is_dataclass(config) and issubclass(config, self.base)):
            raise TypeError(f"{config.__name__} must be a dataclass subclassing {self.base}")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        config.kind = name
        config.summary = summary
        self._entries[name] = config
        return config

    def get(self, name: str) -> type[C]:
        """The config class called ``name``.

        Raises:
            HarnessError: no such entry; the message lists the valid names.
        """
        try:
            return self._entries[name]
        except KeyError:
            guess = difflib.get_close_matches(name, self._entries, n=1)
            hint = f"did you mean {guess[0]!r}? " if guess else ""
            raise HarnessError(
                f"unknown {self.kind} {name!r}; {hint}valid: {', '.join(self._entries)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, type[C]]]:
        return list(self._entries.items())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)
