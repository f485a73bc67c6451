r"""An answer as Markdown, for clients that render Markdown (the OpenAI-compatible endpoint's
`message.content`): the answer text with its `[n]` markers, then its numbered sources.

Everything a document supplies (quoted sentences, titles, sources, section headings) is
backslash-escaped, so a document can't open a link, an image, HTML or a heading in the reader's
client; only qa's own markers and list structure remain Markdown:

    >>> escape_markdown("*bold* <b>")
    '\\*bold\\* \\<b\\>'
"""

from __future__ import annotations

import re

from qa.answering.compose import Answer, Citation

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can start
# structure anywhere on a line (emphasis, code, links and images, HTML, tables, strikethrough,
# entities); a list marker or heading only counts at the start of a line (`_LINE_START`).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_LINE_START = re.compile(r"^(\s*\d*)([-+#>.)])")
# A `[n]` marker as `qa.answering.compose` writes it after a quoted sentence.
_MARKER = re.compile(r"( \[\d+\])(?= |$)")
SOURCES_HEADING = "Sources:"


def escape_markdown(text: str) -> str:
    """`text` on one line with every character that could start Markdown structure escaped."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def answer_text_markdown(answer: Answer) -> str:
    """The answer's text with the quoted words escaped and the `[n]` markers kept as they are."""
    parts = _MARKER.split(answer.text)
    return "".join(part if _MARKER.fullmatch(part) else escape_markdown(part) for part in parts)


def source_line(citation: Citation) -> str:
    """'[1] Title (source), page 3, section "Intro", paragraph 6': where the quote is found."""
    where = [f"page {citation.page}"] if citation.page else []
    if citation.section:
        where.append(f"section “{escape_markdown(citation.section)}”")
    where.append(f"paragraph {citation.paragraph}")
    source = f" ({escape_markdown(citation.source)})" if citation.source else ""
    return f"[{citation.number}] {escape_markdown(citation.title)}{source}, {', '.join(where)}"


def answer_markdown(answer: Answer) -> str:
    """The answer text, then a blank line and its sources as a list (none when abstained)."""
    text = answer_text_markdown(answer)
    if not answer.citations:
        return text
    lines = [f"- {source_line(c)}" for c in answer.citations]
    return "\n".join([text, "", SOURCES_HEADING, *lines])
