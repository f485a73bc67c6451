"""Document signal (issue 12, item 4): does a passage gain from its document's best passage?

    python benchmarks/document_signal.py [--weights 0 0.1 0.2 0.3] [--sample 2000]

Two SQuAD v1.1 dev corpora, the same 2,000 questions (`sample_questions`, seed 0):

- pooled by article: each of the 48 Wikipedia articles is one document of ~43 paragraphs
  (`qa.eval.evaluation.squad_article_documents`); a passage counts only when it covers a gold
  answer's offset (`holds_answer`), so finding the article is not enough;
- pooled by paragraph: each paragraph one document, as `benchmarks/retrieval.py` measures.

For each `FusionConfig.document_weight` the fused score of a candidate moves that share of the
way to the best fused score among its document's candidates. Question vectors are encoded once
and reused across weights (no latency is reported). Indexes are cached under
benchmarks/.cache/ (`document-signal-articles`, `document-signal-paragraphs`). Prints a
Markdown table of R@1, R@5 and MRR@10.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

import qa
from qa.loading.documents import Document
from qa.models.embedding import load_embedder
from qa.eval.evaluation import (
    EvalQuestion,
    first_match_rank,
    holds_answer,
    is_relevant,
    metrics_from_ranks,
    sample_questions,
    squad_article_documents,
    squad_documents,
)
from qa.index.retrieval import FusionConfig, Passage
from qa.errors import IndexProblem

CACHE = Path(__file__).resolve().parent / ".cache"
DEPTH = 10


def cached_index(name: str, documents: list[Document]) -> qa.Index:
    """The index of `documents` under CACHE/name, built when missing or of another size."""
    folder = CACHE / name
    try:
        index = qa.Index.open(folder)
        if index.size[0] == len(documents) and index.stale_reason() is None:
            return index
    except (IndexProblem, ValueError):
        pass
    print(f"building {folder} ...", file=sys.stderr, flush=True)
    return qa.Index.from_documents(documents, folder, progress=True)


def memoise_questions() -> None:
    """Encode each question once: the weights change ranking, not question vectors."""
    embedder = load_embedder()
    original = embedder.encode_queries
    seen: dict[tuple[str, ...], np.ndarray] = {}

    def encode(texts: list[str]) -> np.ndarray:
        key = tuple(texts)
        if key not in seen:
            seen[key] = original(texts)
        return seen[key].copy()

    embedder.encode_queries = encode  # type: ignore[method-assign]


def measure(
    index: qa.Index, questions: list[EvalQuestion], weight: float, relevant: Callable[[Passage, EvalQuestion], bool]
) -> tuple[float, float, float]:
    index.fusion = replace(FusionConfig(), document_weight=weight)
    ranks = [first_match_rank(index.retrieve(q.question, k=DEPTH), lambda p: relevant(p, q)) for q in questions]
    metrics = metrics_from_ranks(ranks, (1, 5))
    return metrics.recall_at(1), metrics.recall_at(5), metrics.mrr_at_10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3])
    parser.add_argument("--sample", type=int, default=2000)
    args = parser.parse_args()
    paragraphs, paragraph_questions = squad_documents()
    articles, article_questions = squad_article_documents()
    corpora = [
        ("by article (48 documents), passage covers the answer", cached_index("document-signal-articles", articles),
         sample_questions(article_questions, args.sample), holds_answer),
        ("by paragraph (2,067 documents), passage from the gold paragraph", cached_index("document-signal-paragraphs", paragraphs),
         sample_questions(paragraph_questions, args.sample), is_relevant),
    ]
    memoise_questions()
    print(f"\n### Document signal: SQuAD v1.1 dev, {args.sample:,} questions, default fusion otherwise\n")
    print("| pooled | document_weight | R@1 | R@5 | MRR@10 |\n|---|---|---|---|---|")
    for name, index, questions, relevant in corpora:
        for weight in args.weights:
            r1, r5, mrr = measure(index, questions, weight, relevant)
            print(f"| {name} | {weight:g} | {r1:.3f} | {r5:.3f} | {mrr:.3f} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
