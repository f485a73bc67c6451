"""How an answer reads on a terminal (`qa ask`, `qa chat`): the text with its short answer in
bold (or between « » when piped), then the numbered sources with where each quote is and the
quote itself; and the `qa chat` conversation loop.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from qa.answering.compose import Answer, Citation
from qa.loading.documents import printable

if TYPE_CHECKING:  # pragma: no cover
    from qa.index.coordinator import Index


def print_answer(answer: Answer) -> None:
    """The answer (its short answer marked), then its numbered sources with their quotes."""
    print(with_short_answer(answer, sys.stdout.isatty()))
    if answer.citations:
        print("\nSources:")
    for c in answer.citations:
        print(f"[{c.number}] {c.title} — {c.source}, {place(c)}paragraph {c.paragraph}, chars {c.start}-{c.end}")
        print(f"    “{c.quote}”")


BOLD, PLAIN = "\033[1m", "\033[0m"
PIPED_MARKS = "«", "»"  # the short answer's marks when the output is not a terminal


def with_short_answer(answer: Answer, terminal: bool) -> str:
    """The answer text with its short answer in bold (a terminal) or between « » (piped)."""
    short = answer.short_answer
    if short is None:
        return answer.text
    for sentence in answer.sentences:
        if sentence.doc_id == short.doc_id and sentence.start <= short.start and short.end <= sentence.end:
            at = answer.text.find(f"{sentence.text} [{sentence.citation}]")
            if at < 0:
                break
            begin = at + short.start - sentence.start
            end = begin + len(short.text)
            opening, closing = (BOLD, PLAIN) if terminal else PIPED_MARKS
            return f"{answer.text[:begin]}{opening}{answer.text[begin:end]}{closing}{answer.text[end:]}"
    return answer.text


def place(citation: Citation) -> str:
    """'page 3, section “Results”, ' — where the quote is in the original, as far as known."""
    page = f"page {citation.page}, " if citation.page else ""
    section = f"section “{printable(citation.section)}”, " if citation.section else ""
    return page + section


CHAT_PROMPT = "you> "
CHAT_QUIT = ("exit", "quit", ":q")
CHAT_TURNS_KEPT = 4  # earlier (question, answer) pairs a follow-up is resolved against


def chat(index: "Index") -> None:
    """A conversation on the terminal: each line a question, follow-ups resolved against the
    earlier turns, the sources after each answer. A refused question is one line on stderr and
    the conversation goes on; an empty line, "exit" or the end of input ends it."""
    history: list[tuple[str, str]] = []
    prompt = CHAT_PROMPT if sys.stdin.isatty() else ""
    while True:
        try:
            question = input(prompt)
        except EOFError:
            return
        if not question.strip() or question.strip().lower() in CHAT_QUIT:
            return
        try:
            answer = index.answer(question, history[-CHAT_TURNS_KEPT:])
        except (ValueError, TypeError) as error:
            print(f"qa: error: {error}", file=sys.stderr, flush=True)
            continue
        print_answer(answer)
        print(flush=True)
        history.append((answer.question, answer.text))
