r"""An answer as Markdown, for clients that render Markdown (the OpenAI-compatible endpoint's
`message.content`): the answer text with its `[n]` markers, then its numbered sources.

Everything a document supplies (quoted sentences, titles, sources, section headings) is
backslash-escaped, so a document can't open a link, an image, HTML or a heading in the reader's
client; only qa's own markers and list structure remain Markdown:

    >>> escape_markdown("*bold* <b>")
    '\\*bold\\* \\<b\\>'
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from qa.answering.compose import Answer, Citation, ShortAnswer, answer_json

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can start
# structure anywhere on a line (emphasis, code, links and images, HTML, tables, strikethrough,
# entities); a list marker or heading only counts at the start of a line (`_LINE_START`).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_WHITE_SPACE = re.compile(r"\s+")
_LINE_START = re.compile(r"^(\s*\d*)([-+#>.)])")
# A `[n]` marker as `qa.answering.compose` writes it after a quoted sentence.
_MARKER = re.compile(r"( \[\d+\])(?= |$)")
SOURCES_HEADING = "Sources:"
EXPORT_TITLE = "Conversation with qa"


def escape_markdown(text: str, line_start: bool = True) -> str:
    """`text` on one line (each run of white space one space) with every character that could
    start Markdown structure escaped; `line_start=False` for a piece in the middle of a line,
    where a list marker or heading cannot begin."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", _WHITE_SPACE.sub(" ", text))
    if not line_start:
        return escaped
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped.lstrip())


def answer_text_pieces(answer: Answer) -> list[str]:
    """The answer's text a quoted sentence at a time, each with its `[n]` marker: the quoted
    words escaped, the markers kept as they are (a stream sends one piece per chunk)."""
    pieces, current = [], ""
    for number, part in enumerate(_MARKER.split(answer.text)):
        if _MARKER.fullmatch(part):
            pieces.append(current + part)
            current = ""
        else:
            current += escape_markdown(part, line_start=number == 0)
    return [*pieces, current] if current else pieces


def answer_text_markdown(answer: Answer) -> str:
    """The answer's text with the quoted words escaped and the `[n]` markers kept as they are."""
    return "".join(answer_text_pieces(answer))


def source_line(citation: Citation) -> str:
    """'[1] Title (source), page 3, section "Intro", paragraph 6': where the quote is found."""
    where = [f"page {citation.page}"] if citation.page else []
    if citation.section:
        where.append(f"section “{escape_markdown(citation.section)}”")
    where.append(f"paragraph {citation.paragraph}")
    source = f" ({escape_markdown(citation.source)})" if citation.source else ""
    return f"[{citation.number}] {escape_markdown(citation.title)}{source}, {', '.join(where)}"


def answer_markdown_pieces(answer: Answer) -> list[str]:
    """`answer_markdown` in pieces that join to it: each quoted sentence, then the sources."""
    pieces = answer_text_pieces(answer)
    if answer.citations:
        lines = [f"- {source_line(c)}" for c in answer.citations]
        pieces.append("\n".join(["", "", SOURCES_HEADING, *lines]))
    return pieces


def answer_markdown(answer: Answer) -> str:
    """The answer text, then a blank line and its sources as a list (none when abstained)."""
    return "".join(answer_markdown_pieces(answer))


def _marked_quote(citation: Citation, short: ShortAnswer | None) -> str:
    """The citation's quote, escaped, with the short answer in bold when it lies in this quote."""
    if short is None or short.number != citation.number or not citation.start <= short.start < short.end <= citation.end:
        return escape_markdown(citation.quote)
    before = citation.quote[: short.start - citation.start]
    inside = citation.quote[short.start - citation.start : short.end - citation.start]
    after = citation.quote[short.end - citation.start :]
    return f"{escape_markdown(before)}**{escape_markdown(inside, False)}**{escape_markdown(after, False)}"


def export_source_line(citation: Citation) -> str:
    """A source as an export lists it: where it is, then the exact characters it quotes."""
    return f"{source_line(citation)}, characters {citation.start}–{citation.end} of {escape_markdown(citation.doc_id)}"


def conversation_markdown(answers: Sequence[Answer], title: str = EXPORT_TITLE) -> str:
    """A conversation as a Markdown document: each question as a heading, its answer, the short
    answer in bold, then the numbered sources with their quotes (short answer bold there too).

    Parsed back, every quote is the cited characters of its document, escaped; document words
    never make structure of their own (`escape_markdown`)."""
    lines = [f"# {escape_markdown(title)}", ""]
    for number, answer in enumerate(answers, start=1):
        lines += [f"## {number}. {escape_markdown(answer.question)}", "", answer_text_markdown(answer), ""]
        short = answer.short_answer
        if short is not None:
            lines += [f"Short answer: **{escape_markdown(short.text)}** [{short.number}]", ""]
        for citation in answer.citations:
            lines += [f"- {export_source_line(citation)}", f"  > {_marked_quote(citation, short)}"]
        if answer.citations:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def conversation_json(answers: Sequence[Answer]) -> str:
    """A conversation as JSON: the answers in order, each in `/api/ask`'s shape (`answer_json`)."""
    return json.dumps({"answers": [answer_json(a) for a in answers]}, ensure_ascii=False, indent=1) + "\n"
