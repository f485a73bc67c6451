"""scripts/reader_training.py's ranking loss and grouped batches: a question's answer window
must out-score its unanswerable windows on the margin qa chooses windows by (best span minus
no-answer), and the batches must keep a question's windows together for the loss to see them.
Also scripts/train_reader.averaged, the weight mix of two checkpoints (torch too)."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")  # the train extra's

from scripts.reader_training import (  # noqa: E402
    MASKED,
    Encoded,
    answer_pairs,
    batches,
    ranking_loss,
)
from scripts.train_reader import Example, encoded_examples  # noqa: E402

WIDTH = 6  # [CLS] + 5 context tokens


def window(group: int, start: int = 0, end: int = 0) -> Encoded:
    return Encoded([101] * WIDTH, [0] * WIDTH, [0] + [1] * (WIDTH - 1), start, end, group)


def logits(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def test_pairs_join_an_answer_window_only_to_unanswerable_windows_of_its_own_question():
    batch = [window(0, 2, 3), window(0), window(1), window(0), window(-1, 1, 1), window(-1)]
    assert answer_pairs(batch) == [(0, 1), (0, 3)]


def test_the_loss_falls_as_the_answer_window_pulls_ahead_and_is_zero_without_pairs():
    batch = [window(0, 2, 2), window(0)]
    flat = [0.0] * WIDTH

    def loss(gold_logit: float) -> float:
        start = logits([[0.0, 0.0, gold_logit, 0.0, 0.0, 0.0], flat])
        end = logits([[0.0, 0.0, gold_logit, 0.0, 0.0, 0.0], flat])
        return float(ranking_loss(start, end, batch))

    assert loss(4.0) < loss(1.0) < loss(-2.0)
    alone = [window(0, 2, 2), window(1)]
    assert float(ranking_loss(logits([flat, flat]), logits([flat, flat]), alone)) == 0.0


def test_the_loss_pushes_the_unanswerable_windows_best_span_down_and_its_no_answer_up():
    batch = [window(0, 1, 1), window(0)]
    start = logits([[0.0] * WIDTH, [0.0, 0.0, 3.0, 0.0, 0.0, MASKED]]).requires_grad_()
    end = logits([[0.0] * WIDTH, [0.0, 0.0, 3.0, 0.0, 0.0, MASKED]]).requires_grad_()
    ranking_loss(start, end, batch).backward()
    assert start.grad[1, 2] > 0 and end.grad[1, 2] > 0  # descending lowers the distractor's span
    assert start.grad[1, 0] < 0  # ... and raises its no-answer score
    assert start.grad[0, 1] < 0  # ... and raises the gold start in the answer window
    assert start.grad[1, 5] == pytest.approx(0.0, abs=1e-6)  # a masked position takes no part


def test_batches_keep_each_questions_windows_together_and_every_window_once():
    encoded = [window(g % 40, 1 if g < 40 else 0, 1 if g < 40 else 0) for g in range(100)] + [window(-1)] * 7
    made = batches(encoded, random.Random(3), 8)
    assert sorted(id(e) for b in made for e in b) == sorted(id(e) for e in encoded)
    assert all(len(b) <= 8 for b in made)
    home = {}
    for number, b in enumerate(made):
        for e in b:
            if e.group >= 0:
                assert home.setdefault(e.group, number) == number
    # A question asked word for word many times is cut to fit a batch.
    assert {len(b) for b in batches([window(5)] * 20, random.Random(3), 8)} == {8, 4}
    # Ungrouped examples fill whole batches, as before the ranking loss.
    assert {len(b) for b in batches([window(-1)] * 64, random.Random(3), 8)} == {8}


def test_windows_asked_the_same_question_share_a_group_and_an_edited_question_has_its_own():
    from scripts.reader_training import tokenizer

    examples = [
        Example("Who sang?", "Ann sang. Bob danced.", 0, 3, "positive"),
        Example("Who sang?", "Bob danced.", -1, -1, "sibling"),
        Example("Who didn't sing?", "Ann sang. Bob danced.", -1, -1, "negated"),
    ]
    grouped = encoded_examples(tokenizer(), examples, grouped=True)
    assert [e.group for e in grouped] == [0, 0, 1]
    assert answer_pairs(grouped) == [(0, 1)]
    assert {e.group for e in encoded_examples(tokenizer(), examples)} == {-1}


def test_averaged_weights_mix_each_float_tensor_and_keep_integer_buffers():
    from scripts.train_reader import averaged

    first = {"w": torch.tensor([0.0, 2.0]), "ids": torch.tensor([0, 1, 2])}
    second = {"w": torch.tensor([4.0, -2.0]), "ids": torch.tensor([9, 9, 9])}
    mixed = averaged(first, second, 0.25)
    assert torch.equal(mixed["w"], torch.tensor([1.0, 1.0]))
    assert torch.equal(mixed["ids"], first["ids"])
    assert torch.equal(averaged(first, second, 0.0)["w"], first["w"])
