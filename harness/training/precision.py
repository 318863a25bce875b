"""Mixed precision: which devices have native bf16, what ``TrainConfig.precision`` resolves to.

``resolve_precision`` turns ``"auto" | "fp32" | "bf16"`` into the autocast dtype of one fit (None:
fp32) and the note its ``FitResult`` carries; ``autocast`` is the context the loop runs forward
passes in. Only the forward passes change: weights, gradients, optimiser states and the loss
stay fp32 (autocast computes matrix products on bf16 copies; embedding lookups stay fp32).
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from harness.models.interactions import AutoInt, Hiformer
from harness.training.config import Precision

__all__ = ["PrecisionChoice", "autocast", "bf16_supported", "resolve_precision"]

# CPU flags of native bf16 arithmetic (AVX512-BF16 dot products, AMX-BF16 tiles). Without them
# bf16 is emulated with fp32 arithmetic plus conversions, which has nothing to gain over fp32.
# (``torch.backends.cpu.get_cpu_capability()`` says "AVX512" whether or not the bf16 extension is
# there, so it cannot tell.)
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def _cpu_bf16() -> bool:
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)  # cpuid, in recent torch
    if get_capabilities is not None:
        capabilities = get_capabilities()
        return any(bool(capabilities.get(flag, False)) for flag in _CPU_BF16_FLAGS)
    try:  # an older torch on Linux
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = {f for line in cpuinfo.splitlines() if line.startswith("flags") for f in line.split()}
    return any(flag in flags for flag in _CPU_BF16_FLAGS)


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes in bf16 natively (not by emulation).

    CUDA: ``torch.cuda.is_bf16_supported`` without emulation (Ampere and newer); CPU: the
    AVX512-BF16 or AMX-BF16 flag; any other device type: no.
    """
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return _cpu_bf16()
    return False


def autocast(
    device: torch.device, dtype: torch.dtype | None
) -> contextlib.AbstractContextManager[object]:
    """``torch.autocast`` to ``dtype`` on ``device``'s type, or nothing at all for None (fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@dataclass(frozen=True)
class PrecisionChoice:
    """What one fit runs its forward passes in.

    Attributes:
        dtype: the autocast dtype (``torch.bfloat16``), or None for plain fp32.
        note: for ``FitResult.notes``: the precision when it is not plain fp32, or why bf16
            was asked for and not used; "" for plain fp32.
    """

    dtype: torch.dtype | None
    note: str = ""


def resolve_precision(
    precision: Precision, device: torch.device, model: nn.Module
) -> PrecisionChoice:
    """The precision one fit of ``model`` on ``device`` runs in.

    ``"fp32"``: fp32. ``"bf16"``: bf16 autocast where the device has native bf16, else fp32
    with a note (the trial's device is only known inside the trial, so this never fails).
    ``"auto"``: bf16 only where ``benchmarks/precision.py`` measured it faster at equal
    quality (`_bf16_measured_faster`).

    Args:
        precision: ``TrainConfig.precision``.
        device: where the fit runs.
        model: the ranker (``"auto"`` reads which parts it is made of).
    """
    if precision == "fp32":
        return PrecisionChoice(None)
    supported = bf16_supported(device)
    if precision == "bf16":
        if supported:
            return PrecisionChoice(torch.bfloat16, "bf16 autocast")
        return PrecisionChoice(
            None, f"precision bf16 asked for, but {device.type} has no native bf16: trained in fp32"
        )
    if supported and _bf16_measured_faster(device, model):
        return PrecisionChoice(torch.bfloat16, "bf16 autocast (precision auto)")
    return PrecisionChoice(None)


# Measured by benchmarks/precision.py (BENCHMARKS.md, "Mixed precision"), on an AMD EPYC with
# AVX512-BF16 at 2 threads, each preset at its standard point: bf16 autocast trains the presets
# built on matrix products 1.2-1.8x as fast as fp32 (DCN-v2 1.76x, DLRM 1.39x, DeepFM 1.32x;
# MLP, ResNet, DenseNet, MMoE, shared-bottom, the joint space) and scores DCN-v2 and DLRM about
# 2x as fast, at the same test AUC (bf16 - fp32 over 3 seeds on planted data: DCN-v2
# 0.0000 +- 0.0001, DLRM -0.0001 +- 0.0002, against a seed-to-seed spread of 0.0005). Two kinds
# of model measured no faster and stay fp32:
# - attention (AutoInt 0.85x, Hiformer 0.50x): the CPU's bf16 flash-attention backward is ~10x
#   slower than its fp32 one (torch 2.13 profile), more than the faster projections win back;
# - models with almost no matrix products (FM alone, 1.00x: 27 weights in linear layers): only
#   the casts are left. The smallest preset measured faster, DenseNet at its standard point, has
#   130k linear weights; `_MIN_LINEAR_WEIGHTS` sits between the two, where nothing was measured.
# CUDA: not measured (the development machine has no GPU), so "auto" stays fp32 there until a
# measurement says otherwise; precision = "bf16" turns it on.
_ATTENTION: tuple[type[nn.Module], ...] = (AutoInt, Hiformer, nn.MultiheadAttention)
_MIN_LINEAR_WEIGHTS = 100_000


def _bf16_measured_faster(device: torch.device, model: nn.Module) -> bool:
    """Whether ``model`` on ``device`` is of a kind measured faster in bf16 at equal quality."""
    if device.type != "cpu":
        return False
    modules = list(model.modules())
    if any(isinstance(m, _ATTENTION) for m in modules):
        return False
    linear = sum(m.weight.numel() for m in modules if isinstance(m, nn.Linear))
    return linear >= _MIN_LINEAR_WEIGHTS
