"""Readers: one per file format, each yielding typed blocks of bounded size (`Block`).

``delimited`` reads CSV/TSV text (plain or gzip, with or without a header, quoted or not);
``parquet`` reads parquet record batches. `harness.data.table.TableReader` picks one by the
dataset card's ``format``; a new format is one module here and one branch there.
"""

from harness.data.readers.base import DEFAULT_BLOCK_BYTES, BadRows, Block, ReadColumn
from harness.data.readers.delimited import TextLayout, iter_text_blocks, text_columns
from harness.data.readers.parquet import iter_parquet_blocks, parquet_columns

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "BadRows",
    "Block",
    "ReadColumn",
    "TextLayout",
    "iter_parquet_blocks",
    "iter_text_blocks",
    "parquet_columns",
    "text_columns",
]
