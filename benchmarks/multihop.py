"""Fusion weights on HotpotQA: does the SQuAD-tuned default hold where questions paraphrase?

    python benchmarks/multihop.py

SQuAD questions share many words with their paragraph, which rewards BM25; HotpotQA's
multi-hop questions are written across two paragraphs and reward the dense signals more. This
asks the HotpotQA sample's questions (`../shared/data/hotpotqa-sample`, pooled 994 paragraphs,
index cached in benchmarks/.cache/hotpot-<corpus hash>) under a grid of min-max weights and RRF, and prints
either-gold R@1, MRR@10 and both gold paragraphs in the top 5 / top 10. Compare with the SQuAD
grid of benchmarks/signals.py before changing a default.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

from qa.eval.eval_runs import cached_index, hotpot_corpus
from qa.index.coordinator import Index
from qa.index.retrieval import FusionConfig

CACHE = Path(__file__).resolve().parent / ".cache"


def measure(index: Index, items: list) -> tuple[float, float, float, float]:
    """Either-gold R@1 and MRR@10, both gold in the top 5 and in the top 10."""
    first = reciprocal = top5 = top10 = 0.0
    for question, gold in items:
        ranked = list(dict.fromkeys(p.doc_id for p in index.retrieve(question.question, k=20)))
        rank = next((i for i, doc in enumerate(ranked[:10], 1) if doc in gold), None)
        first += rank == 1
        reciprocal += 1.0 / rank if rank else 0.0
        top5 += set(gold) <= set(ranked[:5])
        top10 += set(gold) <= set(ranked[:10])
    n = len(items)
    return first / n, reciprocal / n, top5 / n, top10 / n


def main() -> None:
    documents, items = hotpot_corpus()
    index = cached_index(documents, CACHE, "hotpot")
    configs = [
        (f"min-max chunk {c} + sentence {s} + BM25 {1 - c - s:.1f}", FusionConfig(dense_weight=c, sentence_weight=s))
        for c, s in itertools.product((0.0, 0.2, 0.3, 0.4, 0.5), (0.0, 0.2, 0.3, 0.4, 0.5))
        if c + s <= 1.0
    ]
    configs.append(("RRF k=60, default weights", replace(FusionConfig(), method="rrf")))
    configs.append(("RRF k=1, default weights", replace(FusionConfig(), method="rrf", rrf_k=1)))
    rows = []
    for name, config in configs:
        index.fusion = config
        rows.append((name + (" (default)" if config == FusionConfig() else ""), measure(index, items)))
    print(f"\n### HotpotQA sample: {len(items)} questions, {index.size[0]} paragraphs pooled\n")
    print("| fusion | R@1 (either gold) | MRR@10 | both in top 5 | both in top 10 |")
    print("|---|---|---|---|---|")
    for name, values in sorted(rows, key=lambda r: -(r[1][2] + r[1][3])):
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")


if __name__ == "__main__":
    main()
