"""How a ranker's ID embedding tables are trained: their optimiser, their schedule across epochs
and the regularisers on the rows a batch used (`EmbeddingTraining`, ``[train.embeddings]``).

A new optimiser or schedule is one module (its config) plus one ``register`` line below.
"""

from harness.registry import Registry
from harness.training.embeddings.adagrad import AdagradConfig
from harness.training.embeddings.base import (
    EmbeddingOptimizerConfig,
    EmbeddingScheduleConfig,
    EpochHook,
    NoScheduleConfig,
    id_tables,
)
from harness.training.embeddings.config import EmbeddingTraining
from harness.training.embeddings.freeze import FreezeConfig, freeze_tables
from harness.training.embeddings.regularizers import (
    RowRegularizer,
    add_row_l2,
    apply_max_norm,
    embedding_dropout,
    used_rows,
)
from harness.training.embeddings.reset import ResetConfig
from harness.training.embeddings.rowwise_adagrad import RowWiseAdagrad, RowWiseAdagradConfig
from harness.training.embeddings.sparse_adam import SparseAdamConfig

__all__ = [
    "EMBEDDING_OPTIMIZERS",
    "EMBEDDING_SCHEDULES",
    "AdagradConfig",
    "EmbeddingOptimizerConfig",
    "EmbeddingScheduleConfig",
    "EmbeddingTraining",
    "EpochHook",
    "FreezeConfig",
    "NoScheduleConfig",
    "ResetConfig",
    "RowRegularizer",
    "RowWiseAdagrad",
    "RowWiseAdagradConfig",
    "SparseAdamConfig",
    "add_row_l2",
    "apply_max_norm",
    "embedding_dropout",
    "freeze_tables",
    "id_tables",
    "used_rows",
]

EMBEDDING_OPTIMIZERS: Registry[EmbeddingOptimizerConfig] = Registry(
    "embedding optimiser", EmbeddingOptimizerConfig
)
EMBEDDING_OPTIMIZERS.register("sparse_adam", SparseAdamConfig, "Adam on the rows a batch used")
EMBEDDING_OPTIMIZERS.register("adagrad", AdagradConfig, "Adagrad, one accumulator per weight")
EMBEDDING_OPTIMIZERS.register(
    "rowwise_adagrad", RowWiseAdagradConfig, "Adagrad with one accumulator per row"
)

EMBEDDING_SCHEDULES: Registry[EmbeddingScheduleConfig] = Registry(
    "embedding schedule", EmbeddingScheduleConfig
)
EMBEDDING_SCHEDULES.register("none", NoScheduleConfig, "the tables train every epoch")
EMBEDDING_SCHEDULES.register(
    "reset", ResetConfig, "tables re-drawn before each epoch after the first"
)
EMBEDDING_SCHEDULES.register("freeze", FreezeConfig, "tables frozen after epoch k")
