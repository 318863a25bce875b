"""Multi-task rankers: two partly conflicting tasks, the multi-task heads, and task weights.

Task ``a`` clicks with ``sigmoid(f + g)``, task ``b`` with ``sigmoid(f - g)``, where ``f`` and
``g`` each combine a categorical effect and a numeric feature: the tasks share ``f`` and
disagree on ``g``, so a score good for one is uncorrelated with the other.

How the bounds were chosen (4000 training rows, 4000 test rows, batch 128, at most 5 epochs with
patience 2; training seeds 0-2 measured, seed 0 used):

- equal weights, per-task test AUC (a, b): MMoE 0.870/0.875, 0.871/0.875, 0.871/0.876;
  shared bottom 0.873/0.876, 0.871/0.874, 0.871/0.876. Bound: both above 0.80.
- ``task_weights = (1, 0)``: task ``a`` as before (0.868-0.873), task ``b`` 0.431, 0.518, 0.451
  (MMoE) and 0.453, 0.461, 0.458 (shared bottom): its tower never trains, so it reads the
  shared features through its random initial weights. Bound: below 0.65, and at least 0.2
  below the equal-weights run.

Both fits take well under a second each on 2 idle cores.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from harness.data.schema import (
    CategoricalFeature,
    EncodedDataset,
    EncodedSplit,
    FeatureSchema,
    NumericFeature,
)
from harness.families.neural import NEURAL, NeuralConfig, build_ranker
from harness.fitting import TrainContext
from harness.models.backbones import MLPConfig
from harness.models.heads import (
    HeadConfig,
    MMoE,
    MMoEConfig,
    SharedBottom,
    SharedBottomConfig,
)
from harness.models.interactions import NoInteractionConfig
from harness.models.ranker import Ranker, RankerConfig
from harness.models.tokenizer import TokenizerConfig
from harness.training.config import TrainConfig
from harness.training.loop import fit, task_loss
from tests.planted import in_memory_dataset

LEARNED_BOUND = 0.80
UNTRAINED_BOUND = 0.65
CARDS = (20, 20, 10)

HEADS: dict[str, HeadConfig] = {
    "mmoe": MMoEConfig(experts=3, expert_dims=(16,), tower_dims=(8,)),
    "shared_bottom": SharedBottomConfig(tower_dims=(8,)),
}
TRAIN = TrainConfig(
    batch_size=128, max_epochs=5, patience=2, learning_rate=0.01, embedding_learning_rate=0.03
)
CTX = TrainContext(seed=0, threads=2)


def two_task_dataset(n_train: int, n_eval: int, seed: int = 0) -> EncodedDataset:
    """Labels ``a ~ sigmoid(f + g)``, ``b ~ sigmoid(f - g)`` (module docstring)."""
    rng = np.random.default_rng(seed)
    f_effect = rng.normal(0.0, 1.5, CARDS[0])
    g_effect = rng.normal(0.0, 1.5, CARDS[1])

    def split(n: int) -> EncodedSplit:
        x_cat = np.stack([rng.integers(0, c, n) for c in CARDS], axis=1).astype(np.int32)
        x_num = rng.normal(size=(n, 3)).astype(np.float32)  # x2 and c2 are noise
        f = f_effect[x_cat[:, 0]] + x_num[:, 0]
        g = g_effect[x_cat[:, 1]] + x_num[:, 1]
        logits = np.stack([f + g, f - g], axis=1)
        y = (rng.random((n, 2)) < 1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return EncodedSplit(x_num=x_num, x_cat=x_cat, y=y)

    schema = FeatureSchema(
        numeric=tuple(NumericFeature(f"n{i}") for i in range(3)),
        categorical=tuple(CategoricalFeature(f"c{j}", c) for j, c in enumerate(CARDS)),
        labels=("a", "b"),
    )
    return in_memory_dataset("two-tasks", schema, split, n_train, n_eval)


@pytest.fixture(scope="module")
def data() -> EncodedDataset:
    return two_task_dataset(4000, 4000)


def _config(head: HeadConfig, task_weights: tuple[float, ...] = ()) -> NeuralConfig:
    model = RankerConfig(
        tokenizer=TokenizerConfig(embedding_dim=8, init_std=0.1),
        interaction=NoInteractionConfig(),
        backbone=MLPConfig(dims=(32,)),
        head=head,
    )
    train = TrainConfig(**{**vars(TRAIN), "task_weights": task_weights})
    return NeuralConfig(model=model, train=train)


def test_the_tasks_conflict(data: EncodedDataset) -> None:
    y = data.train.y
    assert y.shape == (4000, 2)
    # f + g and f - g are uncorrelated: so are the two labels, roughly.
    assert abs(np.corrcoef(y[:, 0], y[:, 1])[0, 1]) < 0.1


@pytest.mark.parametrize("head", list(HEADS.values()), ids=list(HEADS))
def test_multitask_head_learns_both_tasks(head: HeadConfig, data: EncodedDataset) -> None:
    result = NEURAL.fit(_config(head), data, CTX)
    assert len(result.test_tasks) == 2 and len(result.valid_tasks) == 2
    assert result.test == result.test_tasks[0]  # the primary task is the first label
    for name, metrics in zip(data.schema.labels, result.test_tasks, strict=True):
        assert metrics.auc > LEARNED_BOUND, (name, metrics)
    assert all(len(epoch.valid_tasks) == 2 for epoch in result.curve)


def _towers(model: Ranker) -> nn.ModuleList:
    head = model.head
    assert isinstance(head, MMoE | SharedBottom)
    return head.towers


def _task_b_parameters(model: Ranker) -> dict[str, Tensor]:
    """Copies of the parameters only task ``b`` reads: its tower (and its MMoE gate rows)."""
    head = model.head
    params = {f"tower.{k}": v.detach().clone() for k, v in _towers(model)[1].named_parameters()}
    if isinstance(head, MMoE):
        rows = slice(head.n_experts, 2 * head.n_experts)  # gate logits are (tasks, experts)
        params["gates.weight"] = head.gates.weight[rows].detach().clone()
        params["gates.bias"] = head.gates.bias[rows].detach().clone()
    return params


@pytest.mark.parametrize("head", list(HEADS.values()), ids=list(HEADS))
def test_a_zero_task_weight_makes_that_task_loss_not_matter(
    head: HeadConfig, data: EncodedDataset
) -> None:
    equal = NEURAL.fit(_config(head), data, CTX)
    config = _config(head, task_weights=(1.0, 0.0))
    torch.manual_seed(CTX.seed)  # as NEURAL.fit does, to keep the model and read its weights
    model = build_ranker(config, data)
    before = _task_b_parameters(model)
    tower_a = [p.detach().clone() for p in _towers(model)[0].parameters()]
    weighted = fit(model, data, config.train, CTX)
    # Task b's own parameters got exactly zero gradient: Adam leaves them as they were.
    after = _task_b_parameters(model)
    for name, value in before.items():
        assert torch.equal(after[name], value), name
    tower_a_after = list(_towers(model)[0].parameters())
    assert any(not torch.equal(a, b) for a, b in zip(tower_a, tower_a_after, strict=True))
    # Task a learns as well as before; task b does not.
    auc_a, auc_b = (m.auc for m in weighted.test_tasks)
    assert auc_a > LEARNED_BOUND
    assert auc_b < UNTRAINED_BOUND
    assert auc_b < equal.test_tasks[1].auc - 0.2


def test_task_weights_must_match_the_labels(data: EncodedDataset) -> None:
    config = _config(HEADS["mmoe"], task_weights=(1.0,))
    with pytest.raises(ValueError, match=r"1 weights but the data has 2 tasks \(a, b\)"):
        build_ranker(config, data)
    with pytest.raises(ValueError, match="task_weights"):
        NEURAL.validate(config, data)


# --- task_loss ----------------------------------------------------------------------------------

LOGITS = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
LABELS = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
# BCE with logits: log(1 + e^l) - y l.
BCE = [
    [math.log(2.0), math.log(1.0 + math.e**2)],
    [math.log(1.0 + math.e), math.log(1.0 + math.exp(-1.0)) + 1.0],
]
TASK_MEANS = [(BCE[0][0] + BCE[1][0]) / 2, (BCE[0][1] + BCE[1][1]) / 2]


def test_task_loss_without_weights_is_the_mean_over_rows_and_tasks() -> None:
    expected = sum(BCE[0] + BCE[1]) / 4
    assert task_loss(LOGITS, LABELS).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ((3.0, 1.0), (3 * TASK_MEANS[0] + TASK_MEANS[1]) / 4),
        ((1.0, 0.0), TASK_MEANS[0]),
        ((0.0, 2.0), TASK_MEANS[1]),
        ((2.0, 2.0), (TASK_MEANS[0] + TASK_MEANS[1]) / 2),
    ],
)
def test_task_loss_is_the_weighted_mean_of_per_task_losses(
    weights: tuple[float, float], expected: float
) -> None:
    loss = task_loss(LOGITS, LABELS, torch.tensor(weights))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_task_loss_zero_weight_gives_that_task_no_gradient() -> None:
    logits = LOGITS.clone().requires_grad_(True)
    torch.autograd.backward(task_loss(logits, LABELS, torch.tensor([1.0, 0.0])))
    assert logits.grad is not None
    assert torch.equal(logits.grad[:, 1], torch.zeros(2))
    # d/dl of the task-0 mean: (sigmoid(l) - y) / rows.
    expected = (torch.sigmoid(LOGITS[:, 0]) - LABELS[:, 0]) / 2
    torch.testing.assert_close(logits.grad[:, 0], expected)


def test_task_loss_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="logits and labels differ"):
        task_loss(LOGITS, LABELS[:, :1])
