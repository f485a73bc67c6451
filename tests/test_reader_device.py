"""scripts/reader_device.py: the reader's GPU path, run end to end on the CPU (pack -> train ->
unpack) with the real base model, the real shipped int8 reader as the start, and a tiny
SQuAD-format file. No GPU runs here: `train --device cpu` is the same code as on the GPU
machine with the tensors left on the CPU."""

from __future__ import annotations

import json
import lzma

import pytest

pytest.importorskip("onnx")  # the train extra's (and the test extra's): reads the int8 start

import torch  # noqa: E402

from scripts import reader_device  # noqa: E402
from scripts.reader_training import make_model  # noqa: E402

PARAGRAPH = (
    "Benjamin Huntsman invented crucible steel in 1740. His process made tool steel in Sheffield. "
    "The city grew rich on cutlery. Rivers powered its mills."
)
TINY_SQUAD = {
    "data": [
        {
            "title": "Sheffield",
            "paragraphs": [
                {
                    "context": PARAGRAPH,
                    "qas": [
                        {"id": "1", "question": "Who invented crucible steel?", "answers": [{"text": "Benjamin Huntsman", "answer_start": 0}]},
                        {"id": "2", "question": "When was crucible steel invented?", "answers": [{"text": "1740", "answer_start": 45}]},
                        {"id": "3", "question": "What powered the mills of Sheffield?", "answers": [{"text": "Rivers", "answer_start": 124}]},
                        {"id": "5", "question": "Where did Benjamin Huntsman make tool steel?", "answers": [{"text": "Sheffield", "answer_start": 82}]},
                    ],
                },
                {
                    "context": "Sheffield lies in Yorkshire. Its steel went to London.",
                    "qas": [{"id": "4", "question": "Where does Sheffield lie?", "answers": [{"text": "Yorkshire", "answer_start": 18}]}],
                },
            ],
        }
    ]
}


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pack")
    data = folder / "tiny.json"
    data.write_text(json.dumps(TINY_SQUAD), encoding="utf-8")
    reader_device.pack(folder / "device", seed=3, negatives=1.0, swaps=0.0, retrieved=1.0, data=data, described=1.0)
    return folder / "device"


def test_a_pack_holds_every_example_once_with_its_window(packed):
    raw = json.loads(lzma.decompress((packed / reader_device.EXAMPLES).read_bytes()))
    settings = json.loads((packed / reader_device.SETTINGS).read_text())
    assert settings["examples"] == len(raw["rows"]) >= 4  # 4 answerable questions, plus negatives
    answered = [(q, raw["contexts"][c][s:e]) for q, c, s, e in raw["rows"] if s >= 0]
    assert ("Who invented crucible steel?", "Benjamin Huntsman") in answered
    # --described: the name asked about, described by the question it answers
    assert ("Where did the person who invented crucible steel make tool steel?", "Sheffield") in answered
    assert settings["described"] == 1.0
    assert len(settings["names"]) == len(make_model().state_dict()) - 2  # all but the 2 position-id buffers
    assert not (packed / "base-fp32.onnx").exists()  # 87 MB: would not travel


def test_train_then_unpack_gives_a_checkpoint_a_little_moved_from_the_start(packed, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    reader_device.train_packed(packed, out, steps=2, lr=1e-4, max_minutes=None, device="cpu", limit=None)
    parts = sorted(out.glob(reader_device.STATE + "*"))
    assert parts and all(p.stat().st_size <= reader_device.PART_BYTES for p in parts)
    checkpoint = tmp_path / "reader.pt"
    reader_device.unpack(out, checkpoint)
    state = torch.load(checkpoint)
    start = make_model(packed / reader_device.MODEL, pretrained=False)
    settings = json.loads((packed / reader_device.SETTINGS).read_text())
    reader_device.load_int8(start, reader_device.ROOT / settings["start"], {k: tuple(v) for k, v in settings["names"].items()})
    moved = [k for k, v in start.state_dict().items() if not torch.allclose(v, state[k], atol=1e-3)]
    assert moved  # two steps of training changed weights
    head = state["head.weight"]
    assert torch.isfinite(head).all() and (head - start.state_dict()["head.weight"]).abs().max() < 0.05


def test_parts_join_back_to_the_same_fp16_values(tmp_path, monkeypatch):
    monkeypatch.setattr(reader_device, "PART_BYTES", 1000)
    state = {"a": torch.randn(300), "b": torch.randn(20, 7)}
    parts = reader_device.write_parts(state, tmp_path)
    assert len(parts) > 1
    back = reader_device.read_parts(tmp_path)
    assert set(back) == {"a", "b"}
    assert all(torch.equal(back[k], state[k].half().float()) for k in state)


def test_unpack_without_parts_is_a_one_line_error(tmp_path):
    with pytest.raises(SystemExit, match="no state.safetensors.partN files"):
        reader_device.unpack(tmp_path, tmp_path / "reader.pt")
