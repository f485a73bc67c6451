"""scripts/quant_aware.py: the torch simulation of the int8 file, checked against the file itself
(the real base model exported and quantised by `scripts.model_export.quantise`, run by
onnxruntime one window per call as qa reads)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")  # the train extra's (and the test extra's): export and quantise

import onnx  # noqa: E402
import torch  # noqa: E402

from scripts.model_export import export_onnx, quantise  # noqa: E402
from scripts.quant_aware import fake_activation, plain, simulate_int8  # noqa: E402
from scripts.reader_training import encode, make_model, tensors, tokenizer  # noqa: E402
from scripts.train_reader import logits_onnx  # noqa: E402

WINDOWS = [
    ("Who invented crucible steel?", "Benjamin Huntsman invented crucible steel in 1740.", 0, 17),
    ("What powered the mills?", "The city grew rich on cutlery. Rivers powered its mills in Sheffield, a town of forges.", 31, 37),
    ("Where does Sheffield lie?", "Sheffield lies in Yorkshire.", 18, 27),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """(a model with a seeded head, its encoded windows, its int8 file)."""
    torch.manual_seed(7)
    model = make_model().eval()
    encoded = encode(tokenizer(), WINDOWS)
    folder = tmp_path_factory.mktemp("quant-aware")
    export_onnx(model, folder / "fp32.onnx", ["start_logits", "end_logits"])
    heads = [n.name for n in onnx.load(str(folder / "fp32.onnx")).graph.node if n.name.startswith("/head/")]
    quantise(folder / "fp32.onnx", folder / "int8.onnx", heads)
    return model, encoded, folder / "int8.onnx"


def _torch_logits(model, encoded) -> list[np.ndarray]:
    """Start logits of all windows in one padded batch, cut back to each window's length."""
    ids, mask, types, *_ = tensors(encoded)
    with torch.no_grad():
        start, _end = model(ids, mask, types)
    return [row[: len(window.ids)].numpy() for row, window in zip(start, encoded)]


def test_the_simulation_computes_what_the_int8_file_computes_and_plain_fp32_does_not(files):
    model, encoded, int8 = files
    reference = logits_onnx(int8, encoded)[0]  # start logits, each window run alone
    fp32 = _torch_logits(model, encoded)
    simulate_int8(model)
    simulated = _torch_logits(model, encoded)
    with plain(model):
        assert all(np.array_equal(a, b) for a, b in zip(_torch_logits(model, encoded), fp32))
    simulated_error = max(np.abs(a - b).max() for a, b in zip(simulated, reference))
    fp32_error = max(np.abs(a - b).max() for a, b in zip(fp32, reference))
    print(f"max |start logit - file's|: simulated {simulated_error:.2e}, plain fp32 {fp32_error:.2e}")
    assert fp32_error > 20 * simulated_error  # the simulation is what brings torch to the file


def test_padding_does_not_change_a_row_s_activation_rounding():
    torch.manual_seed(3)
    x = torch.randn(2, 5, 8)
    valid = torch.tensor([[True] * 5, [True, True, True, False, False]])
    padded = x.clone()
    padded[1, 3:] = 1e3  # padding far outside the row's range must not widen it
    together = fake_activation(padded, valid)
    alone = fake_activation(x[1:, :3], valid[1:, :3])
    assert torch.equal(together[1, :3], alone[0])
    row = x[1, :3]
    step = (row.max().clamp_min(0) - row.min().clamp_max(0)) / 255
    assert not torch.equal(together[1, :3], row)  # rounded, not passed through ...
    assert (together[1, :3] - row).abs().max() <= step / 2 + 1e-6  # ... to the nearest step


def test_rounding_passes_gradients_straight_through():
    x = torch.randn(1, 4, 6, requires_grad=True)
    fake_activation(x, torch.ones(1, 4, dtype=torch.bool)).sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_the_int8_check_reads_each_window_alone_as_qa_does(files):
    """`train_reader.logits_onnx` (the int8 check's reading): a window's logits do not depend on
    the windows read beside it (batched, the int8 activations would share one scale)."""
    _model, encoded, int8 = files
    alone = logits_onnx(int8, encoded[1:2])[0][0]
    together = logits_onnx(int8, encoded)[0][1]
    assert len(together) == len(encoded[1].ids)
    assert np.array_equal(alone, together)
