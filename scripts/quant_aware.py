"""The shipped int8 arithmetic, simulated in torch, for quantisation-aware training of the reader.

Why: issue 19 asks the int8 file to take the torch model's decision on >= .99 of held-out
windows. Per output channel it agreed on .90-.94 with every run, and the probes in
docs/reader.md ("Int8 agreement: three more ways ...") found all of the disagreement in the
activations' run-time quantisation, none in the weights'. A model trained with that
quantisation in its forward pass (straight-through gradients, Jacob et al. 2018) learns to keep
its decisions clear of the rounding, at the file's speed (no fp32 products, no block-wise
kernels), and its weights end on the file's int8 grid.

The simulation is exact up to floating-point order, and no closer: a value within ~1e-6 of a
rounding edge may round the other way in onnxruntime, and the difference grows through the later
layers (the thirteenth reader, one held-out window: layer 1 1e-6, layer 2 1e-3, layer 5 0.13;
onnxruntime's own optimised and unoptimised graphs of one file differ too, by 0.08 in the median
window's logits). On short windows of the base model the logits agree to ~3e-7
(`tests/test_quant_aware.py`).

What is simulated, as `scripts.model_export.quantise` and onnxruntime compute it for one window
per call (as qa reads, `qa/models/reading.py`):
  - each encoder Linear's weight: int8 per output channel, symmetric, 7-bit range (q in
    [-64, 64], scale max|w| / 64); each embedding table: uint8, one scale and zero point;
  - each encoder Linear's input: uint8 per window, as `DynamicQuantizeLinear` (range
    [min(x, 0), max(x, 0)] over the window's tokens, 255 steps, zero point rounded); padded
    positions of a batch are left out of the range, so a batch row is quantised as it is alone;
  - the head (the export keeps it fp32), attention products, softmax, GELU, LayerNorm: fp32.

    model = make_model()
    simulate_int8(model)            # training and the torch reference now see int8 arithmetic
    with plain(model):              # the export traces the fp32 graph; quantise() adds the int8
        export_onnx(model, path, ["start_logits", "end_logits"])

`tests/test_quant_aware.py` checks the simulation against onnxruntime on the base model.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import partial
from typing import Iterator

WEIGHT_LEVELS = 64  # Linear weights: int8 with reduce_range, symmetric, q in [-64, 64]
UINT8_LEVELS = 255  # activations and embedding tables: uint8, q in [0, 255]


def _straight_through(x, rounded):
    """`rounded`'s value with `x`'s gradient (the rounding is treated as the identity)."""
    return x + (rounded - x).detach()


def fake_weight(weight):
    """A Linear's `weight` [out, in] rounded to int8 as `quantise` stores it: symmetric, one
    scale per output channel."""
    import torch

    scale = (weight.detach().abs().amax(dim=1, keepdim=True) / WEIGHT_LEVELS).clamp_min(torch.finfo(torch.float32).tiny)
    return _straight_through(weight, torch.clamp(torch.round(weight / scale), -WEIGHT_LEVELS, WEIGHT_LEVELS) * scale)


def _uint8_rounded(x, low, high):
    """`x` on the uint8 grid spanning [min(low, 0), max(high, 0)], as `DynamicQuantizeLinear` does."""
    import torch

    low, high = low.clamp_max(0).detach(), high.clamp_min(0).detach()
    scale = ((high - low) / UINT8_LEVELS).clamp_min(torch.finfo(torch.float32).tiny)
    zero = torch.clamp(torch.round(-low / scale), 0, UINT8_LEVELS)
    rounded = torch.clamp(torch.round(x / scale) + zero, 0, UINT8_LEVELS)
    return _straight_through(x, (rounded - zero) * scale)


def fake_table(weight):
    """An embedding table rounded as `quantise` stores it (its `Gather`): uint8, one scale and
    zero point per table."""
    return _uint8_rounded(weight, weight.min(), weight.max())


def fake_activation(x, valid):
    """`x` [batch, tokens, width] rounded as `DynamicQuantizeLinear` rounds each row alone;
    `valid` [batch, tokens] marks the tokens that count for the row's range (not padding)."""
    import torch

    x = x.float()
    keep = valid[..., None]
    low = torch.where(keep, x, torch.inf).amin(dim=(1, 2), keepdim=True)
    high = torch.where(keep, x, -torch.inf).amax(dim=(1, 2), keepdim=True)
    return _uint8_rounded(x, low, high)


@dataclass
class Simulation:
    """What the patched layers read: whether to simulate, and the current batch's real tokens."""

    on: bool = True
    valid: object = None  # a bool tensor [batch, tokens], set by the model's forward


def _linear(module, simulation: Simulation, x):
    import torch.nn.functional as F

    if not simulation.on:
        return F.linear(x, module.weight, module.bias)
    return F.linear(fake_activation(x, simulation.valid), fake_weight(module.weight), module.bias)


def _embedding(module, simulation: Simulation, ids):
    import torch.nn.functional as F

    weight = fake_table(module.weight) if simulation.on else module.weight
    return F.embedding(ids, weight, module.padding_idx)


def simulate_int8(model) -> Simulation:
    """Make `model` (a `make_model()` SpanReader) compute as its int8 file will: its encoder's
    Linear and Embedding layers simulate int8 (the head stays fp32). Parameters and state-dict
    keys are unchanged, so checkpoints load either way. Returns the switch `plain` uses."""
    import torch

    simulation = Simulation()
    # The pooler is left out: its output is not the reader's, and the export drops it.
    layers = [*model.encoder.embeddings.modules(), *model.encoder.encoder.modules()]
    for module in layers:
        if isinstance(module, torch.nn.Linear):
            module.forward = partial(_linear, module, simulation)
        elif isinstance(module, torch.nn.Embedding):
            module.forward = partial(_embedding, module, simulation)
    unpatched = model.forward

    def forward(input_ids, attention_mask, token_type_ids):
        simulation.valid = attention_mask.bool()
        return unpatched(input_ids, attention_mask, token_type_ids)

    model.forward = forward
    model.int8_simulation = simulation
    return simulation


@contextlib.contextmanager
def plain(model) -> Iterator[None]:
    """Within the block `model` computes in fp32 (for the ONNX export, or to compare); a model
    without `simulate_int8` is always plain."""
    simulation = getattr(model, "int8_simulation", None)
    if simulation is None:
        yield
        return
    simulation.on = False
    try:
        yield
    finally:
        simulation.on = True
