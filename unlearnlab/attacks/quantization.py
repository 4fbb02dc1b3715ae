"""Quantization as an attack: does rounding the weights bring "forgotten" answers back?

Zhang et al. (2024, arXiv:2410.16454) found that 4-bit quantization of models
unlearned with gradient ascent or NPO at small learning rates restores much of
what was forgotten.  Their explanation: such unlearning moves each weight by
less than half a quantization step, so the target and the unlearned model round
to the *same* integer codes, and the quantized unlearned model is the quantized
target.  The attack therefore cannot work when unlearning changed many codes;
:func:`code_change_fraction` measures that condition directly, by rounding both
models on the target's grid (same scales, same groups) and counting the codes
that differ.

The grid is round-to-nearest (RTN), the scheme of optimum-quanto's weight
quantizers: 8 bits symmetric with one scale per output row (``qint8``), 4 bits
affine (a scale and a shift) per group of ``group_size`` consecutive weights
of a row (``qint4``, group 128).  :func:`quantize` returns a float copy whose
linear weights are the *dequantized* ones, from optimum-quanto by default or
from this module's RTN: the same numbers as running the quantized model, but
at float speed on a CPU (optimum-quanto's packed 4-bit kernels are slow there).
The language-model head is left in float, as is usual.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Iterator

import torch

#: Default group size of the 4-bit grid (optimum-quanto's ``qint4`` default).
GROUP_SIZE = 128


@dataclass
class Grid:
    """Where a weight matrix's codes live: ``w ≈ code * scale - shift``, per row or per group.

    The code is ``round((w + shift) / scale)``, in that order of operations,
    because it is optimum-quanto's: rounding ``w / scale + shift / scale``
    instead gives the same code except at exact ties, and one tie in a million
    weights is enough to make two counts of changed codes disagree.
    """

    bits: int
    scale: torch.Tensor  # one per row (8 bits) or per group (4 bits), shape (n_groups, 1)
    shift: torch.Tensor  # 0 for the symmetric grid; minus the group's minimum for the affine one
    group_size: int | None
    symmetric: bool

    @property
    def levels(self) -> tuple[int, int]:
        """The smallest and largest code."""
        if self.symmetric:
            return -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1
        return 0, 2 ** self.bits - 1


def _grouped(weight: torch.Tensor, group_size: int | None) -> torch.Tensor:
    """Rows of ``group_size`` consecutive weights of each output row (one row per output row when None)."""
    w = weight.detach().float()
    if group_size is None or group_size >= w.shape[-1]:
        return w.reshape(w.shape[0], -1)
    if w.shape[-1] % group_size:
        raise ValueError(f"group size {group_size} does not divide the row length {w.shape[-1]}; "
                         "pass a divisor (or None for one group per row)")
    return w.reshape(-1, group_size)


def rtn_grid(weight: torch.Tensor, bits: int, group_size: int | None = None) -> Grid:
    """The round-to-nearest grid of ``weight``: symmetric absmax for 8 bits, affine min-max for fewer.

    The choice follows optimum-quanto's defaults, so that the codes counted here
    are the ones its ``qint8``/``qint4`` weights hold.
    """
    if bits not in (2, 4, 8):
        raise ValueError(f"bits must be 8, 4 or 2; got {bits}")
    groups = _grouped(weight, group_size if bits < 8 else None)
    if bits == 8:
        scale = groups.abs().amax(dim=1, keepdim=True) / (2 ** (bits - 1) - 1)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        return Grid(bits, scale, torch.zeros_like(scale), None, symmetric=True)
    low, high = groups.amin(dim=1, keepdim=True), groups.amax(dim=1, keepdim=True)
    scale = (high - low) / (2 ** bits - 1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return Grid(bits, scale, -low, group_size, symmetric=False)


def codes(weight: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Integer codes of ``weight`` on ``grid`` (rounded to nearest, clipped to the grid's levels)."""
    lo, hi = grid.levels
    groups = _grouped(weight, grid.group_size)
    return torch.clamp(torch.round((groups + grid.shift) / grid.scale), lo, hi).to(torch.int16)


def dequantize(code: torch.Tensor, grid: Grid, shape: torch.Size) -> torch.Tensor:
    """The float weights that ``code`` stands for on ``grid``, in the original ``shape``."""
    return (code.float() * grid.scale - grid.shift).reshape(shape)


def fake_quantize(weight: torch.Tensor, bits: int, group_size: int | None = GROUP_SIZE) -> torch.Tensor:
    """Round ``weight`` to its own RTN grid and back: what a quantized model computes with."""
    grid = rtn_grid(weight, bits, group_size)
    return dequantize(codes(weight, grid), grid, weight.shape).to(weight.dtype)


def quantized_linears(model) -> Iterator[tuple[str, torch.nn.Linear]]:
    """The linear layers a weight-only quantizer rounds: every ``nn.Linear`` but the output head."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            yield name, module


def _group_for(bits: int, group_size: int | None, width: int) -> int | None:
    """The 4-bit group size a layer of row length ``width`` can use (the whole row if it does not divide)."""
    if bits == 8 or group_size is None or width % group_size:
        return None
    return group_size


@torch.no_grad()
def quantize(model, bits: int = 4, group_size: int | None = GROUP_SIZE, library: str | None = None):
    """A float copy of ``model`` whose linear weights are quantized to ``bits`` and dequantized.

    ``library="quanto"`` rounds with optimum-quanto (``qint8`` / ``qint4``, its
    default grids) and reads back its dequantized weights; ``library="rtn"``
    uses :func:`fake_quantize` (no extra package; the same grids, equal to
    float precision, as the tests check); ``library="bitsandbytes"`` uses the
    formats a model loaded with ``load_in_8bit`` / ``load_in_4bit`` holds on a
    GPU (:func:`bitsandbytes_round_trip`; it runs on a CPU too); None takes
    optimum-quanto when it is installed (the ``quant`` extra).  The output head
    stays in float.  The model passed in is not changed.
    """
    library = library or quantization_library()
    quantized = copy.deepcopy(model).eval()
    layers = list(quantized_linears(quantized))
    if library == "rtn":
        for _, module in layers:
            group = _group_for(bits, group_size, module.weight.shape[-1])
            module.weight.copy_(fake_quantize(module.weight, bits, group))
        return quantized
    if library == "bitsandbytes":
        for _, module in layers:
            module.weight.copy_(bitsandbytes_round_trip(module.weight.detach(), bits))
        return quantized
    if library != "quanto":
        raise ValueError(f"library must be 'quanto', 'rtn' or 'bitsandbytes'; got {library!r}")
    from optimum.quanto import qint4, qint8
    from optimum.quanto.tensor.weights import WeightQBitsTensor, WeightQBytesTensor

    qtype = {8: qint8, 4: qint4}.get(bits)
    if qtype is None:
        raise ValueError(f"optimum-quanto quantizes weights to 8 or 4 bits here; got {bits}")
    for _, module in layers:
        weight = module.weight.detach()
        group = _group_for(bits, group_size, weight.shape[-1])
        if bits == 8:
            from optimum.quanto.tensor.optimizers import AbsmaxOptimizer
            scale = AbsmaxOptimizer()(weight, qtype=qtype, axis=0)
            q = WeightQBytesTensor.quantize(weight, qtype, 0, scale)
        else:
            from optimum.quanto.tensor.optimizers import MaxOptimizer
            scale, shift = MaxOptimizer()(weight, qtype=qtype, axis=0, group_size=group or weight.shape[-1])
            q = WeightQBitsTensor.quantize(weight, qtype, 0, group or weight.shape[-1], scale, shift,
                                           optimized=False)
        module.weight.copy_(q.dequantize().to(weight.dtype))
    return quantized


def bitsandbytes_round_trip(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """``weight`` quantized and dequantized in bitsandbytes' formats, on its own device.

    8 bits: LLM.int8's weight format, one absmax scale per output row (the grid
    of optimum-quanto's ``qint8`` too).  4 bits: NF4 in blocks of 64 weights,
    QLoRA's format: sixteen levels placed at quantiles of a normal distribution
    and scaled by each block's absmax, so, unlike the RTN grid, the levels are
    not evenly spaced and :func:`code_change_fraction` does not describe them.
    bitsandbytes runs on CUDA and, since 0.45, on a CPU.
    """
    try:
        import bitsandbytes.functional as bnb
    except ImportError as err:
        raise ImportError("library='bitsandbytes' needs bitsandbytes: pip install --no-deps 'bitsandbytes>=0.45' "
                          "(it works on a CPU too), or use library='quanto' or 'rtn'") from err
    w = weight.float()
    if bits == 8:
        int8, row_absmax, _ = bnb.int8_vectorwise_quant(w)
        return (int8.float() * row_absmax.view(-1, 1) / 127).to(weight.dtype)
    if bits == 4:
        # blocks run over the flattened weight, as in Linear4bit; flattening first also avoids bitsandbytes
        # 0.50's CPU path, which mis-blocks a 2-D weight whose rows 64 does not divide (errors of 2x the absmax)
        packed, state = bnb.quantize_4bit(w.reshape(1, -1), blocksize=64, quant_type="nf4")
        return bnb.dequantize_4bit(packed, state).reshape(weight.shape).to(weight.dtype)
    raise ValueError(f"bitsandbytes quantizes weights to 8 or 4 bits here; got {bits}")


def quantization_library() -> str:
    """``quanto`` when optimum-quanto can be imported, else ``rtn`` (this module's own grid)."""
    try:
        import optimum.quanto  # noqa: F401
    except ImportError:
        return "rtn"
    return "quanto"


@torch.no_grad()
def code_change_fraction(reference, model, bits: int = 4, group_size: int | None = GROUP_SIZE) -> float:
    """Share of quantization codes that differ between ``reference`` (the target) and ``model``.

    Both are rounded on the *reference's* grid (its scales and groups), the
    condition of the quantization attack: where a code is unchanged, the
    quantized model cannot tell the unlearned weight from the target's.
    """
    theirs = dict(quantized_linears(model))
    changed = total = 0
    for name, module in quantized_linears(reference):
        group = _group_for(bits, group_size, module.weight.shape[-1])
        grid = rtn_grid(module.weight, bits, group)
        before, after = codes(module.weight, grid), codes(theirs[name].weight, grid)
        changed += int((before != after).sum())
        total += before.numel()
    return changed / max(total, 1)


@torch.no_grad()
def update_to_step_ratio(reference, model, bits: int = 4, group_size: int | None = GROUP_SIZE) -> float:
    """Median over weights of |unlearning update| / quantization step of the reference's grid.

    Below 0.5 for most weights, rounding undoes the update (the published mechanism).
    """
    theirs = dict(quantized_linears(model))
    ratios = []
    for name, module in quantized_linears(reference):
        group = _group_for(bits, group_size, module.weight.shape[-1])
        grid = rtn_grid(module.weight, bits, group)
        delta = _grouped(theirs[name].weight - module.weight, group)
        ratios.append((delta.abs() / grid.scale).flatten())
    return float(torch.cat(ratios).median())
