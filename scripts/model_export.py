"""The one export pipeline for qa's shipped ONNX models: torch module -> ONNX -> int8 -> sha256.

Used by scripts/train_reader.py (the reader, qa/models/reader.onnx: `quantise`, or
`quantise_blockwise` with `--quantiser block`) and scripts/export_question_encoder.py (the
question encoder, qa/models/question_encoder.onnx: `quantise`); each script checks its int8
file against its torch model its own way (span agreement, cosine) before the file is shipped. Needs the training extra: pip install -e ".[train]".
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


# Block-wise weights for the reader: 8-bit, one scale per 32 weights of an output column,
# activations quantised per block at run time (accuracy level 4, int8 products as in the
# dynamic int8 of `quantise`). MatMulNBits covers MatMul only: the embedding tables are then
# quantised as `quantise` does (one scale per table; one per row agreed no better in a one-off
# probe, .990 against .9925 on 400 held-out windows, 2026-12-06). A file made so needs onnxruntime >= 1.22 to run
# (its x64 kernel for 8-bit MatMulNBits): raise the pin in pyproject.toml with the first one
# shipped. Quantising needs onnx-ir (the train extra).
BLOCK_SIZE = 32
ACCURACY_LEVEL = 4


def quantise_blockwise(
    fp32: Path, int8: Path, keep_fp32: Sequence[str] = (), block_size: int = BLOCK_SIZE, accuracy_level: int = ACCURACY_LEVEL
) -> None:
    """Int8 weights per block of `block_size` (MatMulNBits), embeddings per table; `keep_fp32`
    nodes stay fp32. Defaults: blocks of 32, int8 products (docs/reader.md has a probe of others). On the reader its decisions agree with the torch model's on .9925 of 400 held-out
    windows, against .93 with weights per output channel and one activation scale per tensor
    (`quantise`; docs/reader.md). The cost: on-topic seed answers 1.4x slower (p50 28.3 against
    20.2 ms, `benchmarks/latency.py --reader`), MatMulNBits being slower than MatMulInteger at
    these sizes."""
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization import matmul_nbits_quantizer as nbits

    config = nbits.DefaultWeightOnlyQuantConfig(
        block_size=block_size, is_symmetric=True, accuracy_level=accuracy_level, bits=8,
        op_types_to_quantize=("MatMul",), quant_axes={"MatMul": 0},
    )
    quantiser = nbits.MatMulNBitsQuantizer(onnx.load(str(fp32)), nodes_to_exclude=list(keep_fp32), algo_config=config)
    quantiser.process()
    with tempfile.TemporaryDirectory() as scratch:
        weights = Path(scratch) / "matmul-int8.onnx"
        onnx.save(quantiser.model.model, str(weights))
        quantize_dynamic(
            str(weights), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
            op_types_to_quantize=["Gather"],
        )
