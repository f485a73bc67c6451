"""The one export pipeline for qa's shipped ONNX models: torch module -> ONNX -> int8 -> sha256.

Used by scripts/train_reader.py (the reader, qa/models/reader.onnx) and
scripts/export_question_encoder.py (the question encoder, qa/models/question_encoder.onnx); each
script checks its int8 file against its torch model its own way (span agreement, cosine) before
the file is shipped. Needs the training extra: pip install -e ".[train]".
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


def export_onnx(model, path: Path, output_names: Sequence[str]) -> None:
    """`model(input_ids, attention_mask, token_type_ids)` to ONNX, batch and length dynamic."""
    import torch

    ids = torch.ones((2, 24), dtype=torch.long)
    names = [*INPUT_NAMES, *output_names]
    torch.onnx.export(
        model,
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        str(path),
        input_names=list(INPUT_NAMES),
        output_names=list(output_names),
        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
        opset_version=OPSET,
        dynamo=False,
    )


def quantise(fp32: Path, int8: Path, keep_fp32: Sequence[str] = ()) -> None:
    """Dynamic int8: weights per output channel, 7-bit range (on CPUs without VNNI the u8 x s8
    products of full 8-bit values can saturate); the nodes named in `keep_fp32` stay fp32.
    Measured on the reader: per-tensor weights agreed with fp32 on .79 of held-out windows
    (an early checkpoint), per-channel + reduced range .93 (docs/reader.md)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
        nodes_to_exclude=list(keep_fp32),
    )
