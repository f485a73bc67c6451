"""qa/rendering.py: answers and sources as escaped HTML, without a browser."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import pytest

from qa.answering import Answer, AnswerSentence, Citation
from qa.rendering import (
    NO_SOURCES,
    anchor,
    answer_html,
    citation_card,
    document_choices,
    documents_table,
    highlight,
    notices_html,
    question_html,
    sources_html,
    sources_panel,
    status_text,
)
from qa.retrieval import Passage
from qa.view import DocumentEntry

from conftest import SEED_FILE

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_LINK = "[x](javascript:alert(1))"
EVIL = f"Quokkas meet on Tuesdays {SCRIPT} {IMG} {JS_LINK} & more."


class _Elements(HTMLParser):
    """Every start tag and its attributes, as a browser's parser would see them."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_inert(markup: str) -> None:
    """No script, no image, no event handler, no javascript: URL in `markup`."""
    for tag, attrs in _Elements(markup).tags:
        assert tag not in ("script", "img", "iframe", "object", "embed", "svg"), (tag, markup)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, markup)
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name, markup)


def _evil_answer(question: str = "When do quokkas meet?") -> Answer:
    text = "Intro. " + EVIL + " Tail."
    start = text.index(EVIL)
    passage = Passage(
        text=text, score=0.9, doc_id="evil", title=f"Evil {SCRIPT}", source="javascript:alert(1)",
        start=100, end=100 + len(text), paragraph=2, chunk_id="evil:0", dense_score=0.8, sentence_score=0.8, lexical_score=3.0,
    )
    other = Passage(
        text=f"Also {IMG} here.", score=0.4, doc_id="evil", title=f"Evil {SCRIPT}", source="https://example.org/a?b=1&c=2",
        start=400, end=420, paragraph=5, chunk_id="evil:3", dense_score=0.5, sentence_score=0.5, lexical_score=1.0,
    )
    citation = Citation(
        number=1, doc_id="evil", title=passage.title, source=passage.source, paragraph=2,
        start=100 + start, end=100 + start + len(EVIL), quote=EVIL,
        spans=((100 + start, 100 + start + len(EVIL)),), chunk_id="evil:0",
    )
    sentence = AnswerSentence(EVIL, 1, "evil", citation.start, citation.end, 0.9)
    return Answer(question, f"{EVIL} [1]", [citation], [passage, other], False, [sentence], 0.9)


# --- escaping -------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [SCRIPT, IMG, JS_LINK, '"><svg onload=alert(1)>', "<a href='javascript:x'>y</a>"])
def test_question_is_text_not_markup(payload):
    markup = question_html(payload)
    assert_inert(markup)
    assert unescape(re.sub(r"<[^>]+>", "", markup)) == payload


def test_answer_with_script_img_and_js_link_renders_them_as_text():
    markup = answer_html(_evil_answer(), turn=1)
    assert_inert(markup)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup
    assert JS_LINK in markup  # Markdown is never rendered: the link stays literal text
    assert "&amp; more." in markup


def test_sources_with_hostile_title_source_and_passage_render_as_text():
    markup = sources_html(_evil_answer(), turn=3)
    assert_inert(markup)
    assert "Evil &lt;script&gt;" in markup
    # A javascript: source is shown as text; an http(s) source becomes a safe link.
    assert 'href="https://example.org/a?b=1&amp;c=2"' in markup
    assert "javascript:alert(1) · paragraph 2" in markup
    assert not any(
        (attrs.get("href") or "").startswith("javascript") for _, attrs in _Elements(markup).tags
    )


def test_documents_table_escapes_every_cell():
    entry = DocumentEntry(
        doc_id="x<y", path="/tmp/x", title=f"{SCRIPT} title", source=IMG, content_hash="h",
        paragraphs=3, sentences=5, chunks=2, added="2026-11-26T00:29:26.902596+00:00",
    )
    markup = documents_table([entry])
    assert_inert(markup)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; title" in markup
    assert "<td>2026-11-26 00:29 UTC</td>" in markup and '<td class="qa-n">3</td>' in markup
    assert document_choices([entry]) == [(f"{SCRIPT} title (x<y)", "x<y")]  # dropdown shows text


def test_notices_escape_file_names():
    markup = notices_html([(False, f"{IMG}.txt: file is empty"), (True, "ok.md: added")])
    assert_inert(markup)
    assert 'class="qa-fail"' in markup and 'class="qa-ok"' in markup


# --- structure --------------------------------------------------------------------------------


def test_markers_link_to_the_source_cards_of_their_own_answer():
    answer = _evil_answer()
    chat = answer_html(answer, turn=4)
    cards = sources_html(answer, turn=4)
    hrefs = [a.get("href") for t, a in _Elements(chat).tags if t == "a"]
    ids = [a.get("id") for t, a in _Elements(cards).tags if a.get("id")]
    assert hrefs == ["#src-4-1"] and ids == ["src-4-1"] == [anchor(4, 1)]
    assert ">[1]</a>" in chat


def test_streaming_shows_the_first_sentences_only(seed_index):
    answer = seed_index.answer("What is happening in Kursk and what did Ukrainian soldiers say?")
    assert len(answer.sentences) >= 2
    first = answer_html(answer, turn=1, upto=1)
    full = answer_html(answer, turn=1)
    assert first.count("qa-cite") == 1 and full.count("qa-cite") == len(answer.sentences)
    assert unescape(answer.sentences[0].text) in unescape(first)
    assert answer.sentences[1].text not in unescape(first)


def test_highlight_marks_exact_document_spans():
    text = "Alpha beta. Gamma <delta>. Epsilon."
    base = 1000
    start = base + text.index("Gamma")
    end = base + text.index(" Epsilon")
    markup = highlight(text, base, [(start, end), (base - 50, base - 40)])
    assert markup == "Alpha beta. <mark>Gamma &lt;delta&gt;.</mark> Epsilon."
    # Overlapping spans merge; spans running past the passage are clipped.
    assert highlight("abcdef", 10, [(11, 13), (12, 15), (14, 99)]) == "a<mark>bcdef</mark>"


def test_real_citation_card_highlights_the_quoted_sentence(seed_index):
    answer = seed_index.answer("What is the US backstop position?")
    citation = answer.citations[0]
    passage = next(p for p in answer.passages if p.chunk_id == citation.chunk_id)
    card = citation_card(citation, passage, turn=1)
    marked = re.findall(r"<mark>(.*?)</mark>", card, flags=re.S)
    document_text = seed_index.document(citation.doc_id).text
    assert [unescape(m) for m in marked] == [document_text[s:e] for s, e in citation.spans]
    assert unescape(marked[0]) == citation.quote
    assert f"paragraph {citation.paragraph}" in card and f"{citation.start}:{citation.end}" in card
    assert unescape(citation.title) in unescape(card) and citation.source in card


def test_uncited_passages_are_collapsed_as_also_retrieved(seed_index):
    answer = seed_index.answer("What is the US backstop position?")
    markup = sources_html(answer, turn=1)
    uncited = [p for p in answer.passages if p.chunk_id not in {c.chunk_id for c in answer.citations}]
    assert uncited, "the seed question retrieves more passages than it cites"
    assert f"<summary>Also retrieved ({len(uncited)})</summary>" in markup
    assert markup.index('class="qa-source"') < markup.index("<details")


def test_abstained_answer_says_so_and_shows_no_sources(seed_index):
    answer = seed_index.answer("Who won the 2022 World Cup?")
    assert answer.abstained
    chat = answer_html(answer, turn=2)
    assert "The documents don&#x27;t say." in chat and "qa-cite" not in chat
    sources = sources_html(answer, turn=2)
    assert "qa-source" not in sources.replace("qa-sources", "") and NO_SOURCES.replace("'", "&#x27;") in sources


def test_panel_lists_latest_answer_first():
    first, second = sources_html(_evil_answer("first?"), 1), sources_html(_evil_answer("second?"), 2)
    panel = sources_panel([first, second])
    assert panel.index("second?") < panel.index("first?")
    assert "Ask a question" in sources_panel([])


def test_status_line_counts_and_names_the_model():
    assert status_text(1, 7, "all-MiniLM-L6-v2").startswith("1 document · 7 passages · model all-MiniLM-L6-v2")
    assert status_text(2, 1, "m").startswith("2 documents · 1 passage ·")


def test_seed_file_fixture_matches_offsets(seed_index):
    """The offsets the page shows point into the file as stored on disk (plain text)."""
    answer = seed_index.answer("What is the US backstop position?")
    citation = answer.citations[0]
    assert SEED_FILE.read_text(encoding="utf-8")[citation.start : citation.end] == citation.quote
