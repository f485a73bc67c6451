"""qa/serving/rendering.py: answers and sources as escaped HTML, without a browser."""

from __future__ import annotations

import re
from dataclasses import replace
from html import unescape
from html.parser import HTMLParser

import pytest

from qa.answering.compose import Answer, AnswerConfig, AnswerSentence, Citation
from qa.serving.documents_tab import (
    document_choices,
    documents_table,
    notices_html,
    remove_prompt_html,
    status_html,
    status_text,
)
from qa.serving.rendering import (
    CONFIDENCE_LEGEND,
    CSS,
    NO_SOURCES,
    anchor,
    answer_html,
    citation_card,
    live_html,
    live_text,
    heading_marks,
    highlight,
    message_html,
    paragraphs_text,
    passage_card,
    question_count_html,
    question_html,
    question_refused_html,
    sources_html,
    sources_panel,
)
from qa.index.retrieval import Passage
from qa.index.view import DocumentEntry

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
    assert '<td data-sort="2026-11-26T00:29:26.902596+00:00">2026-11-26 00:29 UTC</td>' in markup
    assert '<td class="qa-n" data-sort="3">3</td>' in markup
    assert 'data-sort="x&lt;y"' in markup and 'data-sort="&lt;script&gt;' in markup  # sort keys escaped too
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
    # Without the reader: it quotes two sentences here (the reader quotes its span's one).
    answer = seed_index.answer(
        "What is happening in Kursk and what did Ukrainian soldiers say?", config=AnswerConfig(reader=False)
    )
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


# --- issue 11: paragraph ranges, headings, errors, counter, documents table -------------------


@pytest.mark.parametrize(
    ("paragraphs", "first", "expected"),
    [
        ((6,), 6, "paragraph 6"),
        ((2, 4), 2, "paragraphs 2 and 4"),
        ((2, 3), 2, "paragraphs 2 and 3"),
        ((2, 3, 4), 2, "paragraphs 2\u20134"),
        ((1, 3, 4, 5, 7), 1, "paragraphs 1, 3\u20135 and 7"),
        ((), 6, "paragraph 6"),  # a citation without `paragraphs` falls back to its first
    ],
)
def test_paragraphs_text_names_every_paragraph(paragraphs, first, expected):
    assert paragraphs_text(paragraphs, first) == expected


def _two_paragraph_citation() -> tuple[Citation, Passage]:
    text = "# Farm notes\n\nZebras graze at dawn.\n\nA fence.\n\nZebras sleep in the barn."
    passage = Passage(
        text=text, score=0.9, doc_id="farm", title="Farm notes", source="farm.md", start=0, end=len(text),
        paragraph=1, chunk_id="farm:0", dense_score=0.8, sentence_score=0.8, lexical_score=3.0,
    )
    first, last = text.index("Zebras graze"), text.index("Zebras sleep")
    spans = ((first, first + len("Zebras graze at dawn.")), (last, len(text)))
    citation = Citation(
        number=1, doc_id="farm", title="Farm notes", source="farm.md", paragraph=2, start=first,
        end=len(text), quote=text[first:], spans=spans, chunk_id="farm:0", paragraphs=(2, 4),
    )
    return citation, passage


def test_card_names_the_paragraph_range_and_shows_headings_without_marks():
    citation, passage = _two_paragraph_citation()
    card = citation_card(citation, passage, turn=1)
    assert "farm.md · paragraphs 2 and 4 · characters" in card
    body = re.search(r'<blockquote class="qa-passage">(.*?)</blockquote>', card, flags=re.S).group(1)
    assert body.startswith("Farm notes<br>") and "#" not in body
    assert re.findall(r"<mark>(.*?)</mark>", body) == ["Zebras graze at dawn.", "Zebras sleep in the barn."]
    assert "#" not in passage_card(passage).split("qa-passage")[1]  # "also retrieved" cards too


def test_heading_marks_only_on_heading_lines():
    text = "## Title ##\nC# and #1 hits stay.\n    # code stays\n#\n###### Six"
    hidden = heading_marks(text)
    shown = highlight(text, 0, (), hidden)
    assert shown == "Title<br>C# and #1 hits stay.<br>    # code stays<br><br>Six"
    # A mark inside a highlighted span does not split the <mark>.
    assert highlight("# Head\nBody", 0, [(0, 11)], heading_marks("# Head\nBody")) == "<mark>Head<br>Body</mark>"


def test_real_citations_carry_every_quoted_paragraph(tmp_path, embedder):
    from qa.index.coordinator import Index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "zebra.md").write_text(ZEBRA_MD, encoding="utf-8")
    index = Index.build([corpus], tmp_path / "index")
    answer = index.answer(ZEBRA_QUESTION)
    citation = answer.citations[0]
    assert citation.paragraph == 2 and citation.paragraphs == (2, 4)
    card = citation_card(citation, answer.passages[0], turn=1)
    assert "paragraphs 2 and 4" in card and "Farm notes" in card and "# Farm" not in card


ZEBRA_MD = """# Farm notes

The Lindenhof zebras graze on clover in the north meadow every morning.

A wooden fence was painted blue in 2019.

At night the Lindenhof zebras sleep in the old stone barn by the river.
"""
ZEBRA_QUESTION = "What do the Lindenhof zebras do in the morning and at night?"


def test_error_message_is_marked_as_an_error_and_escaped():
    markup = message_html(f"question is empty {SCRIPT}")
    assert_inert(markup)
    assert 'class="qa-notice qa-error" role="alert"' in markup and "Not answered:" in markup
    assert "&lt;script&gt;" in markup
    # The page hides the thumbs under a reply that holds .qa-error.
    assert ".message-row:has(.qa-error) + .message-buttons" in CSS


def test_question_counter_and_refusal_say_the_limit():
    assert ">0 / 2,000 characters<" in question_count_html(0)
    over = question_count_html(5000)
    assert "qa-over" in over and "5,000 / 2,000 characters: too long to ask; shorten it by 3,000." in over
    refused = question_refused_html("question is 5,000 characters long; the limit is 2,000", 5000)
    assert "Not asked: the question is 5,000 characters long; the limit is 2,000." in refused
    other = question_refused_html("question is <b>empty</b>")
    assert "Not asked: question is &lt;b&gt;empty&lt;/b&gt;." in other and 'role="alert"' in other


def test_documents_table_is_newest_first_and_its_headings_sort():
    def entry(doc_id: str, title: str, added: str) -> DocumentEntry:
        return DocumentEntry(
            doc_id=doc_id, path=f"/tmp/{doc_id}", title=title, source="", content_hash=doc_id,
            paragraphs=1, sentences=1, chunks=1, added=added,
        )

    entries = [
        entry("a", "Alpha", "2026-11-26T00:00:00.000001+00:00"),
        entry("c", "Charlie", "2026-11-27T09:00:00.000000+00:00"),
        entry("b", "Bravo", "2026-11-26T00:00:00.000002+00:00"),  # same minute as Alpha, later
    ]
    markup = documents_table(entries)
    assert re.findall(r'<tr data-doc="(\w)">', markup) == ["c", "b", "a"]
    assert [label for label, _ in document_choices(entries)] == ["Charlie (c)", "Bravo (b)", "Alpha (a)"]
    headings = re.findall(r'<th aria-sort="(\w+)" data-kind="(\w+)"><button type="button" class="qa-sort"', markup)
    assert headings[4] == ("descending", "text") and headings[2] == ("none", "number") and len(headings) == 6


def test_remove_prompt_says_whether_the_file_goes_and_is_escaped():
    upload = remove_prompt_html(f"{SCRIPT} notes", "x<y", upload=True)
    assert_inert(upload)
    assert "Its uploaded file is deleted too." in upload and "&lt;script&gt;" in upload
    assert "Rebuild does not add it back" in remove_prompt_html("Seed", "seed", upload=False)


# --- accessibility ----------------------------------------------------------------------------


def _attrs(markup: str, tag: str, css: str) -> dict[str, str | None]:
    """The attributes of the first `tag` whose class list holds `css`."""
    return next(a for t, a in _Elements(markup).tags if t == tag and css in (a.get("class") or "").split())


def test_citation_links_and_cards_have_names_that_say_which_source():
    answer = _evil_answer()
    link = _attrs(answer_html(answer, turn=2), "a", "qa-cite")
    assert link["title"] == f"Source 1: Evil {SCRIPT}"  # its accessible name in the page (PAGE_JS)
    card = _attrs(sources_html(answer, turn=2), "div", "qa-source")
    assert card["aria-label"] == f"Source 1 of answer 2: Evil {SCRIPT}" and card["tabindex"] == "-1"
    assert card["role"] == "group" and card["id"] == "src-2-1"
    back = _attrs(sources_html(answer, turn=2), "button", "qa-back")
    assert back["type"] == "button"
    assert_inert(answer_html(answer, turn=2) + sources_html(answer, turn=2))


def test_the_confidence_tag_is_explained_and_kept_with_its_marker():
    markup = answer_html(replace(_evil_answer(), confidence=0.9), turn=1)
    tail = re.search(r'<span class="qa-tail">(.*)</span></p>', markup).group(1)
    assert tail.startswith('<a class="qa-cite"') and "qa-confidence qa-likely" in tail  # one unit
    spoken = re.search(r'<span class="qa-sr-only">([^<]*)</span>likely</span>', markup).group(1)
    assert spoken == "Confidence, an estimated 90% chance that this answer contains the answer: "
    assert "likely" in CONFIDENCE_LEGEND and "uncertain" in CONFIDENCE_LEGEND
    assert ".qa-tail { white-space: nowrap; }" in CSS


def test_the_live_region_says_the_answer_without_markers_escaped():
    said = live_text(_evil_answer(), 3)
    assert said.startswith("Answer 3: Quokkas meet") and "[1]" not in said and said.endswith("(1 source, listed under Sources.)")
    assert JS_LINK in said  # a document's own brackets are text, kept
    markup = live_html(said)
    assert_inert(markup)
    assert "&lt;script&gt;" in markup
    assert live_html("") == ""


def test_status_keeps_counts_on_a_phone_and_the_table_scrolls_in_its_own_box():
    markup = status_html(1, 7, "<model>")
    assert unescape(re.sub(r"<[^>]+>", "", markup)) == status_text(1, 7, "<model>")
    assert markup.count("qa-status-extra") == 2 and "&lt;model&gt;" in markup
    entry = DocumentEntry(
        doc_id="d", path="/tmp/d", title="T", source="", content_hash="h",
        paragraphs=1, sentences=1, chunks=1, added="2026-11-26T00:29:26+00:00",
    )
    wrap = _attrs(documents_table([entry]), "div", "qa-docs-wrap")
    assert wrap == {"class": "qa-docs-wrap", "role": "region", "aria-label": "Indexed documents", "tabindex": "0"}
    assert ".qa-docs-wrap { max-width: 100%; overflow-x: auto; }" in CSS
