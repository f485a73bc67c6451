"""Answerable bridge questions made from SQuAD train: a name in one question replaced by a
description of it taken from another question of the same article, the one it answers.

    "When was Disney founded?" + "What company bought Pixar?" (answered "Disney")
    -> "When was the company that bought Pixar founded?"   (still answered by Disney's window)

Why: HotpotQA's bridge questions reach their answer through a description ("What government
position was held by the woman who portrayed Corliss Archer …?"), and the answer's window
holds none of the description's words. Every unanswerable kind the reader learns from teaches
that a window lacking the question's words does not answer, and the bridge questions were the
price (docs/reader.md: 7 of 78 abstained with the shipped file, 15–28 after further runs).
`_bridge_positive` (scripts/train_reader.py) tried the counterweight with a name the window
lacks; these give it with a description, as HotpotQA asks.

Only two shapes of question become descriptions, both without subject–verb inversion, so that
the description reads as English: "Who <verb> …?" -> "the person who <verb> …", and
"What|Which <noun> <verb> …?" -> "the <noun> that <verb> …".
"""

from __future__ import annotations

import random
import re

# A verb that opens an inverted question ("Who did Beyoncé marry?", "What city is X in?"):
# turned into a description it would read "the person who did Beyoncé marry".
INVERTING = frozenset(
    "did does do is was were are has have had can could will would should may might must shall".split()
)
# Words after "What" that are no noun of the answer ("What is …", "What kind of …").
NOT_A_NOUN = INVERTING | frozenset("the a an of in on to for by kind type sort form part".split())
# Past tenses without "-ed" that open a description ("What company bought Pixar?").
IRREGULAR_PAST = frozenset(
    "won led built bought made wrote became began took gave held ran sang fought sold taught brought "
    "left lost met paid said saw sent spoke stood told thought went came drew drove flew grew knew "
    "rose shot struck threw beat broke chose fell found hid kept laid lit overthrew ruled sat set shook "
    "spent split spread stole swept tore wore".split()
)
_VERB = re.compile(r"^[a-z]+(?:ed|es|s)$")
_WHO = re.compile(r"^Who (\w+) (.+?)\s*\?*$")
_WHO_IS = re.compile(r"^(?:is|was) (?:the|a|an) ")  # "Who was the first …": no inversion
_WHAT = re.compile(r"^(?:What|Which) ([a-z]+) ([a-z]+) (.+?)\s*\?*$")
MAX_NAME_WORDS = 5  # a longer answer is a phrase, not a name another question would use
_NAME_ANSWER = re.compile(r"^[A-Z][^\d]{2,}$")


def description(question: str) -> str | None:
    """`question` as a noun phrase describing its answer, or None for any other shape.

        >>> description("What company bought Pixar?")
        'the company that bought Pixar'
        >>> description("Who did Beyoncé marry?") is None   # inverted
        True
    """
    who = _WHO.match(question.strip())
    if who and (who.group(1) not in INVERTING or _WHO_IS.match(f"{who.group(1)} {who.group(2)}")):
        return f"the person who {who.group(1)} {who.group(2)}"
    what = _WHAT.match(question.strip())
    if what and what.group(1) not in NOT_A_NOUN and not what.group(1).endswith(("ed", "es")) and _is_verb(what.group(2)):
        return f"the {what.group(1)} that {what.group(2)} {what.group(3)}"
    return None


def _is_verb(word: str) -> bool:
    """Whether `word` reads as a verb in the past or present tense, not an inverting one."""
    return word not in INVERTING and (word in IRREGULAR_PAST or bool(_VERB.match(word)))


def descriptions_of(article: dict) -> dict[str, list[str]]:
    """Each name that answers a question of the article (a capitalised answer of at most
    `MAX_NAME_WORDS` words, no digits, not in its own question) -> the descriptions made
    from the questions it answers."""
    found: dict[str, list[str]] = {}
    for paragraph in article["paragraphs"]:
        for qa in paragraph["qas"]:
            name = qa["answers"][0]["text"].strip()
            if not _NAME_ANSWER.match(name) or len(name.split()) > MAX_NAME_WORDS or name in qa["question"]:
                continue
            described = description(qa["question"])
            if described is not None:
                found.setdefault(name, []).append(described)
    return found


def described_question(rng: random.Random, question: str, answer: str, descriptions: dict[str, list[str]]) -> str | None:
    """`question` with one name it holds replaced by a description of that name (drawn with
    `rng`), or None when it holds none, or when the description would give its answer away.

        >>> described_question(random.Random(0), "When was Disney founded?", "1923",
        ...                    {"Disney": ["the company that bought Pixar"]})
        'When was the company that bought Pixar founded?'
    """
    held = {n: at for n in descriptions if n != answer.strip() and (at := _whole_name_at(question, n)) is not None}
    if not held:
        return None
    name = rng.choice(sorted(held))
    named = _capitalised(question)
    usable = [d for d in descriptions[name] if answer.lower() not in d.lower() and not _capitalised(d) & named]
    if not usable:
        return None
    start, end = held[name]
    described = rng.choice(usable)
    if start == 0:  # "Boston is …" -> "The city that … is …"
        described = described[0].upper() + described[1:]
    return question[:start] + described + question[end:]


def _capitalised(text: str) -> set[str]:
    """The capitalised words of `text` after its first: a description naming what its question
    names ("When did Stratonice marry the person who married Stratonice?") says nothing."""
    return set(re.findall(r"(?<!^)\b[A-Z][\w'’-]+", text))


def _whole_name_at(question: str, name: str) -> tuple[int, int] | None:
    """Where `name` stands in `question` as a whole name: not a part of a longer one ("Himachal"
    in "Himachal Pradesh"), nor of a compound ("Intel-based"); a "the" before it goes with it
    ("of the Barcelona club" -> "of the team that … club", not "of the the team …")."""
    for m in re.finditer(rf"\b{re.escape(name)}\b", question):
        before, after = question[: m.start()], question[m.end() :]
        if re.search(r"[A-Z][\w'’.-]*\s+$", before) or re.match(r"\s+[A-Z]|[-’]|'(?!s\b)", after):
            continue
        the = re.search(r"\b[Tt]he\s+$", before)
        return (the.start() if the else m.start()), m.end()
    return None
