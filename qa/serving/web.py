"""The web chat: Gradio layout and event wiring over a `QaService` (the one the JSON API uses).

    python app.py                      # or: qa serve [--host 127.0.0.1] [--port 7860] [--index DIR] [--share] [--read-only]

Presentation lives in `qa.serving.rendering` (everything from documents is escaped there), the
page's CSS and its keyboard and screen-reader script in `qa.serving.page_assets`, the Documents
tab in `qa.serving.documents_events`, feedback in `qa.serving.feedback`, the conversation's
downloads in `qa.serving.markdown` (`export_files` writes them); this module adds no answering
logic of its own.

Environment:
    QA_HOST, QA_PORT                       where to listen when not given (127.0.0.1, 7860)
    QA_AUTH_USER, QA_AUTH_PASSWORD         both set: a login on every route (page: Gradio's form; API: HTTP Basic)
    QA_ANSWER_THREADS                      threads answering JSON API questions (default: two per core, at most 8)
    QA_MAX_UPLOAD_MB                       upload size limit per file (default 10)
    QA_INDEX, QA_SEEDS, QA_DATA            see `qa.defaults`

JSON API: `POST /api/ask` and the document routes of `qa.serving.api`, served by the same uvicorn
(`qa.serving.server.serve` mounts this Gradio app under a FastAPI app that holds them).

HTTP API (gradio_client):
    >>> from gradio_client import Client
    >>> result = Client("http://127.0.0.1:7860/").predict("What is the US backstop position?", api_name="/ask")
    >>> result["text"], result["citations"][0]["quote"], result["abstained"]
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Iterator, Sequence
from uuid import uuid4

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls

import gradio as gr  # noqa: E402

from qa.answering.compose import Answer, answer_json  # noqa: E402
from qa.serving import documents_tab, rendering  # noqa: E402
from qa.serving.api import original_url  # noqa: E402
from qa.serving.markdown import conversation_json, conversation_markdown  # noqa: E402
from qa.serving.page_assets import PAGE_JS  # noqa: E402
from qa.serving.documents_events import DocumentsTab  # noqa: E402
from qa.serving.feedback import rating_of, record_feedback  # noqa: E402
from qa.serving.service import QaService, QuestionRefused, ServiceError  # noqa: E402

log = logging.getLogger("qa.serving.web")
# Questions offered on first load (they fit the default corpus, seeds/, and each is answered:
# tests/serving/test_web.py asks them all).
EXAMPLES = (
    "What is the US backstop position?",
    "When will military leaders meet?",
    "Why did Ukrainian soldiers keep territory in Kursk?",
    "Who is Jonathan Powell?",
)
# Pause between streamed sentences: enough to see the answer grow, small next to the 1 s bar.
STREAM_DELAY_S = 0.06
THINKING = '<span class="qa-thinking">…</span>'
# The downloads of the conversation (`export_files`): (button label, file name).
EXPORTS = (("Download Markdown", "qa-conversation.md"), ("Download JSON", "qa-conversation.json"))
# Under the page, in place of Gradio's "Use via API" (which documents Gradio's own API).
API_NOTE = (
    '<footer class="qa-api-note">Use qa from your own code: <code>POST /api/ask</code> (JSON, '
    'exact citations) · an OpenAI-compatible API at <a href="v1/models"><code>/v1</code></a> '
    "(<code>/v1/chat/completions</code>, for Open WebUI and other chat clients); "
    "see docs/web.md, “HTTP API”.</footer>"
)


def _pairs(turns: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """The conversation so far as (question, answer text) pairs for `Index.answer`."""
    return [(t["question"], t["text"]) for t in turns if not t.get("error")]


def export_files(turns: Sequence[dict[str, Any]], folder: Path | None = None) -> tuple[Path, Path] | None:
    """The conversation so far as (Markdown file, JSON file) (`qa.serving.markdown`'s
    `conversation_markdown` and `conversation_json`), the answers in order; error turns are left
    out. None when there is no answer to export. Files go to a folder named by their content
    under `folder` (default: the system's temp folder), so asking again writes nothing new."""
    answers = [t["answer"] for t in turns if not t.get("error") and t.get("answer") is not None]
    if not answers:
        return None
    texts = (conversation_markdown(answers), conversation_json(answers))
    digest = hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()[:20]
    target = (folder or Path(tempfile.gettempdir()) / "qa-exports") / digest
    target.mkdir(parents=True, exist_ok=True)
    paths = tuple(target / name for _, name in EXPORTS)
    for path, text in zip(paths, texts):
        if not path.exists():
            path.write_text(text, encoding="utf-8")
    return paths[0], paths[1]


def _messages(turns: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for t in turns:
        messages.append({"role": "user", "content": rendering.question_html(t["question"])})
        messages.append({"role": "assistant", "content": t["html"]})
    return messages


class ChatApp:
    """The handlers of one web app over one `Index` (shared by all browser sessions)."""

    def __init__(self, service: QaService, examples: Sequence[str] = EXAMPLES) -> None:
        """`examples`: questions offered on an empty chat. A read-only `service` leaves out the
        Documents tab's controls (`qa.serving.documents_events`)."""
        self.service = service
        self.examples = list(examples)
        self.documents = DocumentsTab(service)

    # --- chat ----------------------------------------------------------------------------

    def respond(
        self, question: str, turns: list[dict[str, Any]] | None, search_in: list[str] | None = None
    ) -> Iterator[tuple]:
        """Submit handler: show the question, then stream the answer sentence by sentence, from
        the documents picked in "Search in" (all when none is picked).

        Outputs: (textbox, chatbot, sources panel, turns state, character counter). An empty
        box does nothing. A question the library refuses as too long (`QaService.check_question`)
        is not asked: the counter says so and the question stays in the box, whole, to be
        shortened (the box has no `maxlength` that would cut a paste mid-word without a word).
        Any other refusal (nothing but control characters) is the chat's reply, marked as one.
        """
        skip = gr.skip()
        if not isinstance(question, str) or not question.strip():
            yield skip, skip, skip, skip, skip
            return
        try:
            self.service.check_question(question)
        except QuestionRefused as refused:
            if refused.length is not None:
                yield skip, skip, skip, skip, rendering.question_refused_html(str(refused), refused.length)
                return
        turns = list(turns or [])
        number = len(turns) + 1
        shown = _messages(turns)
        shown.append({"role": "user", "content": rendering.question_html(question)})
        shown.append({"role": "assistant", "content": THINKING})
        yield "", list(shown), skip, skip, skip
        record: dict[str, Any] = {"id": uuid4().hex, "question": question.strip()}
        try:
            answer = self.service.ask(question, _pairs(turns), search_in or None)
        except ServiceError as error:  # one plain sentence, whatever went wrong
            record.update(
                text=str(error), html=rendering.message_html(str(error)), live=f"Answer {number}: not answered: {error}", error=True
            )
        else:
            for upto in range(1, len(answer.sentences)):
                shown[-1] = {"role": "assistant", "content": rendering.answer_html(answer, number, upto)}
                yield skip, list(shown), skip, skip, skip  # the box is left alone: the next question may be in it
                time.sleep(STREAM_DELAY_S)
            record.update(
                text=answer.text,
                html=rendering.answer_html(answer, number),
                sources=rendering.sources_html(answer, number, self._originals(answer)),
                abstained=answer.abstained,
                citations=[asdict(c) for c in answer.citations],
                live=rendering.live_text(answer, number),
                answer=replace(answer, passages=[]),  # for the exports; the passages are not exported
                error=False,
            )
        turns.append(record)
        yield skip, _messages(turns), self._panel(turns), turns, skip

    def _originals(self, answer: Answer) -> dict[str, str]:
        """Doc id -> URL of the stored original (`qa.serving.api`'s route) of each cited upload."""
        return {doc_id: original_url(doc_id) for doc_id in self.service.uploaded([c.doc_id for c in answer.citations])}

    @staticmethod
    def _panel(turns: Sequence[dict[str, Any]]) -> str:
        return rendering.sources_panel([t["sources"] for t in turns if t.get("sources")], len(turns))

    def clear(self) -> tuple:
        """Clear chat: empty the question box, the chat, the sources panel and the turns."""
        return "", [], rendering.sources_panel([], 0), []

    @staticmethod
    def after_turn(turns: list[dict[str, Any]] | None) -> tuple:
        """After each answer (and Clear chat): (live region, Markdown download, JSON download).

        The live region says the latest answer (or error) once it is complete; the downloads
        hold the whole conversation, and are disabled while there is no answer to export.
        """
        turns = turns or []
        live = rendering.live_html(turns[-1].get("live", "") if turns else "")
        files = export_files(turns)
        buttons = tuple(
            gr.DownloadButton(value=str(path) if files else None, interactive=files is not None)
            for path in (files or (None, None))
        )
        return (live, *buttons)

    def search_in_choices(self) -> gr.Dropdown:
        """The "Search in" picker's choices: every indexed document, redrawn when the page loads
        or the Chat tab is opened (documents may have been added or removed meanwhile); a
        picked document that is gone is dropped."""
        entries = self.service.documents()
        return gr.Dropdown(choices=documents_tab.document_choices(entries))

    def pick_example(self, data: gr.SelectData) -> str:
        """The text of a clicked example question, put in the box (the page then submits it)."""
        value = data.value
        return value.get("text", "") if isinstance(value, dict) else str(value or "")

    def on_like(self, turns: list[dict[str, Any]] | None, data: gr.LikeData) -> None:
        """Thumbs up/down: one line in the feedback file with question, answer and citations."""
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        turns = turns or []
        if not isinstance(index, int) or index % 2 != 1 or index // 2 >= len(turns):
            return
        turn = turns[index // 2]
        if turn.get("error"):
            return
        try:
            record_feedback(
                rating_of(data.liked),
                turn["question"],
                turn["text"],
                turn.get("citations", []),
                abstained=bool(turn.get("abstained")),
                answer_id=turn["id"],
            )
        except OSError:
            log.exception("could not write feedback")
            gr.Warning("Your feedback could not be saved (see the server log).")
            return
        gr.Info("Thanks, your feedback was saved.")

    def api_ask(self, question: str) -> dict:
        """Answer a question from the indexed documents.

        Returns {"text": answer with [n] markers, "citations": [{number, doc_id, title,
        source, paragraph, start, end, quote, spans, chunk_id}], "abstained": bool,
        "confidence": P(the answer contains the answer), "short_answer": {text, doc_id, start,
        end, number} (the exact answer inside citation `number`'s quote) or null}.
        """
        try:
            answer = self.service.ask(question)
        except ServiceError as error:
            raise gr.Error(str(error), print_exception=False) from None
        return {key: value for key, value in answer_json(answer).items() if key != "question"}

    # --- layout --------------------------------------------------------------------------

    def blocks(self) -> gr.Blocks:
        """The page: a Chat tab (chat, question box with its character counter, sources) and a
        Documents tab (the table; upload, remove and rebuild unless the service is read-only)."""
        with gr.Blocks(title="qa · ask your documents", analytics_enabled=False) as demo:
            with gr.Row(equal_height=True, elem_id="qa-top"):
                gr.HTML(
                    '<div class="qa-header"><h1><b>qa</b> · answers quoted from your documents, '
                    "with exact sources</h1></div>",
                    js_on_load=None,
                )
                status = gr.HTML(self.documents.status(), elem_id="qa-status", js_on_load=None)
            with gr.Tabs():
                with gr.Tab("Chat", id="chat") as chat_tab:
                    search_in = self._chat_tab()
                chat_tab.select(self.search_in_choices, None, search_in, api_visibility="private")
                demo.load(self.search_in_choices, None, search_in, api_visibility="private")
                with gr.Tab("Documents", id="documents"):
                    self.documents.layout(demo, status)
            gr.HTML(API_NOTE, elem_id="qa-api", js_on_load=None)
            demo.load(None, None, None, js=PAGE_JS, api_visibility="private")  # focus, live region, names
            gr.api(self.api_ask, api_name="ask")
        return demo

    def _chat_tab(self) -> gr.Dropdown:
        """The Chat tab's components and events; returns the "Search in" picker."""
        turns = gr.State([])
        with gr.Row():
            # The question row comes first in the page, so Tab from the box reaches Ask and then
            # the answers' [n] links; CSS (`qa.serving.page_assets`) shows it under the chat.
            with gr.Column(scale=3, elem_id="qa-chat-column"):
                question, ask = self._question_row()
                count = gr.HTML(rendering.question_count_html(0), elem_id="qa-count", js_on_load=None)
                chatbot = gr.Chatbot(
                    label="Chat",
                    show_label=False,  # a floating label would sit on top of messages once they scroll
                    elem_id="qa-chat",
                    height=520,
                    render_markdown=False,  # messages are HTML escaped by qa.serving.rendering
                    sanitize_html=True,
                    latex_delimiters=[],
                    allow_tags=False,
                    examples=[{"text": q} for q in self.examples] or None,
                    placeholder="Ask a question: the answer quotes the documents, "
                    "and every [n] links to its source.",
                    feedback_options=("Like", "Dislike"),
                    buttons=[],  # no copy-all: the downloads below export the conversation
                )
                with gr.Row(elem_id="qa-chat-tools"):
                    clear = gr.Button("Clear chat", elem_id="qa-clear", size="sm", min_width=80)
                    downloads = [
                        gr.DownloadButton(label, elem_id=f"qa-download-{name.rsplit('.', 1)[1]}", size="sm",
                                          interactive=False, min_width=80)
                        for label, name in EXPORTS
                    ]
                gr.HTML(f'<p class="qa-legend">{rendering.text_html(rendering.CONFIDENCE_LEGEND)}</p>',
                        elem_id="qa-legend", js_on_load=None)
                search_in = gr.Dropdown(
                    label="Search in (all documents when none is picked)", choices=[], value=[],
                    multiselect=True, elem_id="qa-search-in",
                )
            with gr.Column(scale=2):
                sources = gr.HTML(
                    rendering.sources_panel([]), label="Sources", elem_id="qa-sources", js_on_load=None
                )
        live = gr.HTML("", elem_id="qa-live", js_on_load=None)  # what PAGE_JS's live region says

        private = {"api_visibility": "private"}
        chat_io = dict(inputs=[question, turns, search_in], outputs=[question, chatbot, sources, turns, count], **private)
        after = dict(fn=self.after_turn, inputs=[turns], outputs=[live, *downloads], show_progress="hidden", **private)
        # A question submitted while the one before is still answering runs once that is done
        # (Gradio's default, "once", silently drops it); the box is read when it runs, so a
        # double Enter asks once.
        queued = dict(show_progress="hidden", trigger_mode="always_last")
        question.submit(self.respond, **queued, **chat_io).then(**after)
        ask.click(self.respond, **queued, **chat_io).then(**after)
        question.change(None, [question], [count], js=rendering.COUNTER_JS, **private)  # browser only
        chatbot.example_select(self.pick_example, None, question, **private).then(
            self.respond, show_progress="hidden", **chat_io
        ).then(**after)
        clear.click(self.clear, None, [question, chatbot, sources, turns], **private).then(**after)
        chatbot.clear(self.clear, None, [question, chatbot, sources, turns], **private).then(**after)  # CSS hides its icon
        chatbot.like(self.on_like, [turns], None, **private)
        return search_in

    @staticmethod
    def _question_row() -> tuple[gr.Textbox, gr.Button]:
        with gr.Row(elem_id="qa-ask-row"):
            # No max_length: the browser would cut a long paste mid-word, silently.
            # The counter shows the limit; `respond` refuses what is over it.
            question = gr.Textbox(
                label="Question",
                show_label=False,
                placeholder="Ask a question about the documents…",
                elem_id="qa-question",
                max_lines=6,  # a long paste scrolls inside the box; the counter stays in view
                scale=6,
                autofocus=True,
            )
            ask = gr.Button("Ask", variant="primary", elem_id="qa-ask", scale=1, min_width=80)
        return question, ask


def build_app(service: QaService, examples: Sequence[str] = EXAMPLES) -> gr.Blocks:
    """The Gradio app over `service` (not launched)."""
    return ChatApp(service, examples).blocks()


def theme() -> gr.themes.Base:
    """Gradio's Soft theme with system fonts, so the page loads nothing from the internet."""
    # System fonts only: the default theme would fetch Google Fonts, and qa runs offline.
    # A shade darker than Soft's accents where text sits on them, for 4.5:1 contrast (axe-core).
    return gr.themes.Soft(
        font=["ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "monospace"],
    ).set(
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700",
        color_accent="*primary_600",
        block_label_text_color="*primary_700",
        block_title_text_color="*primary_700",
        body_text_color_subdued="*neutral_600",
    )
