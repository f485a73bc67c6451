"""Which names a second retrieval hop follows, for questions that need two documents.

"From 1945-1949 Dick Humbert played for an NFL team based in what state?" is answered by two
documents: the first says "He played for the Philadelphia Eagles", the second where the Eagles
are based. A question alone rarely finds the second, because it never names it; the first
answer does. So the composer (`qa.answering.compose`) takes the names its quoted sentences introduce
(names the question does not use) and the names of the question that its quotes leave
uncovered ("Which singer is American, Mark King or Nick Hexum?" answered about Hexum only), and
searches again with each (`hop_names` gives them in the order to try).

A name is a run of capitalised words, optionally joined by "of", "the", "de" …, or a quoted
title; function words that open a sentence ("In", "The", "What") are not part of it. Dates
("May 30", "June 1961") and bare numbers are not names to follow. Names are tried rarest
first (the highest index-wide IDF of their words): "Philadelphia Eagles" before "American".

    >>> names_in('He played for the Philadelphia Eagles (1941, 1945–1949).')
    ['Philadelphia Eagles']
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

# Names tried per question. Those a document's title holds are encoded in one model call
# together, then each is one search (qa.answering.hops.with_second_hop).
MAX_HOP_NAMES = 6
_CONNECTORS = ("of", "the", "de", "von", "van", "du", "la", "le")
_WORD = r"[A-Z][\w'’\-.]*"
_NAME = re.compile(
    r'"[^"]{2,60}"|' + _WORD + r"(?:\s+(?:(?:" + "|".join(_CONNECTORS) + r")\s+)*(?:" + _WORD + r"|\d[\w\-]*))*"
)
# Capitalised only because they open a sentence or a clause, never the start of a name.
_FUNCTION_WORDS = frozenset(
    "what who whom whose which when where why how in the a an he she it they his her its their "
    "this that these those at on from for by though as after before besides during while "
    # A yes/no question's opening verb ("Are Christopher Nolan and …"); not "Will" or "May",
    # which open names as often.
    "is are was were do does did has have had could would should".split()
)
# Two names a question compares: "X or Y" ("Who is older, Sid Haig or Vic Darchinyan?"), or
# "X and Y" in a question about both ("Are X and Y both directors?", "… in the same state?").
MAX_COMPARED = 3
# No comma before "or": "Apollo 6, or AS-502" gives one thing a second name.
_OR_BETWEEN = re.compile(r"^\s+(?:or|and/or)\s+(?:the\s+)?$", re.IGNORECASE)
_AND_BETWEEN = re.compile(r"^\s*,?\s*and\s+(?:the\s+)?$", re.IGNORECASE)
_ABOUT_BOTH = re.compile(r"\b(?:both|same|neither|either|in common)\b", re.IGNORECASE)
_DATE_OR_NUMBER = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b|^[\d\W]+$"
)

Terms = Callable[[str], Sequence[str]]  # text -> its BM25 terms (qa.index.lexical.query_terms)
Weights = Callable[[list[str]], dict[str, float]]  # terms -> index-wide IDF
ManyTerms = Callable[[list[str]], Sequence[Sequence[str]]]  # texts -> the BM25 terms of each
_QUESTION_WORD = re.compile(r"[\w'’\-]+")


def names_in(text: str) -> list[str]:
    """The names in `text`, in order, each once, without leading function words or dates."""
    found: list[str] = []
    for match in _NAME.finditer(text):
        name = _clean_name(match.group(0))
        if name and name not in found:
            found.append(name)
    return found


def _clean_name(match: str) -> str:
    """A matched run of capitalised words without its opening function words; "" for a date
    or a number."""
    words = match.strip('"').rstrip(".").split()
    while words and words[0].lower() in _FUNCTION_WORDS:
        words = words[1:]
    name = " ".join(words)
    return "" if _DATE_OR_NUMBER.search(name) else name


def compared_names(question: str) -> list[str]:
    """The names `question` compares, in its order, or [] when it compares none: names next to
    each other joined by "or", or by "and" in a question about both ("both", "the same",
    "neither", "in common"). At most `MAX_COMPARED`.

        >>> compared_names("Who is older, Sid Haig or Vic Darchinyan?")
        ['Sid Haig', 'Vic Darchinyan']
        >>> compared_names("Are Christopher Nolan and Sathish Kalathil both film directors?")
        ['Christopher Nolan', 'Sathish Kalathil']
        >>> compared_names("What did the Normans or their descendants build?")  # one name
        []
    """
    spans = _name_spans(question)
    compared: list[str] = []
    for (name, _, end), (other, start, _) in zip(spans, spans[1:]):
        between = question[end:start]
        if _OR_BETWEEN.match(between) or (_AND_BETWEEN.match(between) and _ABOUT_BOTH.search(question)):
            compared.extend(n for n in (name, other) if n not in compared)
    return compared[:MAX_COMPARED]


def _name_spans(text: str) -> list[tuple[str, int, int]]:
    """`names_in`'s names, every occurrence, with the start and end of the words matched (a
    leading "The" or "Are" included: it sits between names as "or the" would)."""
    return [(name, m.start(), m.end()) for m in _NAME.finditer(text) if (name := _clean_name(m.group(0)))]


def hop_names(question: str, quoted: Sequence[str], titles: Sequence[str], terms: Terms, weights: Weights) -> list[str]:
    """Names worth a second search, rarest first, at most `MAX_HOP_NAMES`: the question's names
    that `quoted` (the answer's sentences) and their documents' `titles` do not cover, and the
    names the quotes introduce. (Rarest first over both kinds together: "uncovered first" put
    a descriptor like "NFL" in "an NFL team" ahead of the name the answer introduced.)

        >>> hop_names("Which team did Dick Humbert play for?", ["He played for the Philadelphia Eagles."],
        ...           ["Dick Humbert"], index.query_terms, index.term_weights)
        ['Philadelphia Eagles']
    """
    asked = set(terms(question))
    answered = {t for text in [*quoted, *titles] for t in terms(text)}
    title_terms = {t for title in titles for t in terms(title)}
    uncovered = [n for n in names_in(question) if _terms_beyond(n, answered, terms)]
    introduced = [
        n for text in quoted for n in names_in(text) if _terms_beyond(n, asked | title_terms, terms)
    ]
    chosen = list(dict.fromkeys(_rarest_first(uncovered + introduced, terms, weights)))
    return chosen[:MAX_HOP_NAMES]


def unanswered_words(question: str, quoted: Sequence[str], many_terms: ManyTerms) -> str:
    """The question's words whose terms no quoted sentence has, in order: what a second hop
    still has to find ("… played for an NFL team based in what state?" answered "He played for
    the Philadelphia Eagles" leaves "NFL team based state"). The hop's quote is scored
    against these and the name, not against words the first answer already matched.

        >>> unanswered_words("Where is the team Humbert played for based?", ["Humbert played for the Eagles."], terms)
        'team based'
    """
    words = _QUESTION_WORD.findall(question)
    answered = {t for terms in many_terms(list(quoted)) for t in terms}
    return " ".join(w for w, own in zip(words, many_terms(words)) if own and not set(own) <= answered)


def _terms_beyond(name: str, known: set[str], terms: Terms) -> bool:
    """Whether `name` has terms and at least one of them is not in `known`."""
    own = set(terms(name))
    return bool(own) and not own <= known


def _rarest_first(names: list[str], terms: Terms, weights: Weights) -> list[str]:
    def rarity(name: str) -> float:
        idf = weights(list(terms(name)))
        return max(idf.values(), default=0.0)

    return sorted(names, key=rarity, reverse=True)
