"""qa/serving/markdown.py: a conversation exported as Markdown parses back (markdown-it, the
CommonMark parser Gradio ships with) into exactly its questions, answers and quotes, and a
hostile document's words stay text."""

from __future__ import annotations

import json
from pathlib import Path

from markdown_it import MarkdownIt

from qa.index.coordinator import Index
from qa.serving.markdown import conversation_json, conversation_markdown

HOSTILE = (
    "# Harbour notes\n\n"
    "The ferry *Gull* <script>alert(1)</script> sails at [dawn](http://evil.example) "
    "from pier `7` | every | day.\n"
)


def _tokens(markdown: str) -> list:
    return MarkdownIt("commonmark").enable("table").parse(markdown)


def _inline_text(token) -> str:
    """The text a reader sees in an inline token (escapes resolved, emphasis marks dropped)."""
    return "".join(child.content for child in token.children if child.type in ("text", "code_inline"))


def test_an_exported_conversation_parses_back_to_its_quotes(seed_index: Index):
    answers = [seed_index.answer("What is the US backstop position?"), seed_index.answer("When did Trump meet Putin?")]
    tokens = _tokens(conversation_markdown(answers))
    headings = [_inline_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    assert headings == [f"1. {answers[0].question}", f"2. {answers[1].question}"]
    quotes = [_inline_text(tokens[i + 2]) for i, t in enumerate(tokens) if t.type == "blockquote_open"]
    assert quotes == [c.quote for c in answers[0].citations]
    bold = [tokens[i].children for i, t in enumerate(tokens) if t.type == "inline" and any(c.type == "strong_open" for c in t.children)]
    assert answers[0].short_answer is not None and len(bold) >= 2  # the short answer line and the quote
    assert "The documents don't say." in [_inline_text(t) for t in tokens if t.type == "inline"]


def test_a_documents_words_make_no_markdown_structure(tmp_path: Path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour.md").write_text(HOSTILE, encoding="utf-8")
    index = Index.build([corpus], tmp_path / "index")
    answer = index.answer("When does the ferry Gull sail?")
    assert not answer.abstained
    tokens = _tokens(conversation_markdown([answer]))
    kinds = {child.type for t in tokens if t.type == "inline" for child in t.children}
    assert not kinds & {"link_open", "html_inline", "em_open", "code_inline", "image"}
    assert not {t.type for t in tokens} & {"html_block", "table_open"}
    quotes = [_inline_text(tokens[i + 2]) for i, t in enumerate(tokens) if t.type == "blockquote_open"]
    assert quotes == [" ".join(c.quote.split()) for c in answer.citations]


def test_the_json_export_is_the_api_shape_in_order(seed_index: Index):
    answers = [seed_index.answer("Who is Jonathan Powell?"), seed_index.answer("What is happening in Kursk?")]
    exported = json.loads(conversation_json(answers))["answers"]
    assert [a["question"] for a in exported] == [a.question for a in answers]
    seed = seed_index.document(answers[0].citations[0].doc_id).text
    for citation in exported[0]["citations"]:
        assert seed[citation["start"] : citation["end"]] == citation["quote"]
