"""The web chat: Gradio layout and event wiring over `Index.answer` and the `Index` API.

    python app.py                      # or: qa serve [--host 127.0.0.1] [--port 7860] [--index DIR] [--share] [--read-only]

Presentation lives in `qa.serving.rendering` (everything from documents is escaped there), uploads in
`qa.serving.uploads`, feedback in `qa.serving.feedback`; this module adds no answering logic of its own.

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

import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator, Sequence
from uuid import uuid4

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls

import gradio as gr  # noqa: E402

from qa.serving import documents_tab, rendering  # noqa: E402
from qa.serving.api import original_url  # noqa: E402
from qa.answering.compose import answer_json  # noqa: E402
from qa.errors import describe_failure  # noqa: E402
from qa.serving.feedback import rating_of, record_feedback  # noqa: E402
from qa.answering.compose import Answer  # noqa: E402
from qa.index.coordinator import Index  # noqa: E402
from qa.index.retrieval import MAX_QUESTION_CHARS, normalise_question  # noqa: E402
from qa.serving.uploads import ALLOWED_SUFFIXES, add_uploads, is_upload, max_upload_bytes, remove_document  # noqa: E402

log = logging.getLogger("qa.serving.web")
# Questions offered on first load (they fit the default corpus, seeds/).
EXAMPLES = (
    "What is the US backstop position?",
    "When will military leaders meet?",
    "What is happening in Kursk?",
    "Who is Jonathan Powell?",
)
# Pause between streamed sentences: enough to see the answer grow, small next to the 1 s bar.
STREAM_DELAY_S = 0.06
THINKING = '<span class="qa-thinking">…</span>'
READ_ONLY = "This server is read-only: documents cannot be added, removed or rebuilt here."
NOTHING_REMOVED = "Nothing removed."


def _pairs(turns: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """The conversation so far as (question, answer text) pairs for `Index.answer`."""
    return [(t["question"], t["text"]) for t in turns if not t.get("error")]


def _messages(turns: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for t in turns:
        messages.append({"role": "user", "content": rendering.question_html(t["question"])})
        messages.append({"role": "assistant", "content": t["html"]})
    return messages


class ChatApp:
    """The handlers of one web app over one `Index` (shared by all browser sessions)."""

    def __init__(self, index: Index, examples: Sequence[str] = EXAMPLES, read_only: bool = False) -> None:
        """`read_only`: a shared or public page that answers questions but must not change the
        index: the upload, remove and rebuild controls are left out, and their handlers refuse."""
        self.index = index
        self.examples = list(examples)
        self.read_only = read_only

    # --- chat ----------------------------------------------------------------------------

    def respond(self, question: str, turns: list[dict[str, Any]] | None) -> Iterator[tuple]:
        """Submit handler: show the question, then stream the answer sentence by sentence.

        Outputs: (textbox, chatbot, sources panel, turns state, character counter). An empty
        question does nothing; one over `MAX_QUESTION_CHARS` is refused with its length and
        left in the box, whole, to be shortened (the box has no `maxlength` that would cut a
        paste mid-word without a word).
        """
        skip = gr.skip()
        if not isinstance(question, str) or not question.strip():
            yield skip, skip, skip, skip, skip
            return
        length = len(normalise_question(question).strip())
        if length > MAX_QUESTION_CHARS:
            yield skip, skip, skip, skip, rendering.question_refused_html(length)
            return
        turns = list(turns or [])
        number = len(turns) + 1
        shown = _messages(turns)
        shown.append({"role": "user", "content": rendering.question_html(question)})
        shown.append({"role": "assistant", "content": THINKING})
        yield "", list(shown), skip, skip, skip
        record: dict[str, Any] = {"id": uuid4().hex, "question": question.strip()}
        try:
            answer = self.index.answer(question, _pairs(turns))
        except (ValueError, TypeError) as error:  # a question the library refuses, with its reason
            record.update(text=str(error), html=rendering.message_html(str(error)), error=True)
        except Exception as error:  # noqa: BLE001 - nothing reaches the page but a plain sentence
            failed = describe_failure(error, "answering a chat question")
            record.update(text=failed, html=rendering.message_html(failed), error=True)
        else:
            for upto in range(1, len(answer.sentences)):
                shown[-1] = {"role": "assistant", "content": rendering.answer_html(answer, number, upto)}
                yield "", list(shown), skip, skip, skip
                time.sleep(STREAM_DELAY_S)
            record.update(
                text=answer.text,
                html=rendering.answer_html(answer, number),
                sources=rendering.sources_html(answer, number, self._originals(answer)),
                abstained=answer.abstained,
                citations=[asdict(c) for c in answer.citations],
                error=False,
            )
        turns.append(record)
        yield "", _messages(turns), self._panel(turns), turns, skip

    def _originals(self, answer: Answer) -> dict[str, str]:
        """Doc id -> URL of the stored original (`qa.serving.api`'s route) of each cited upload."""
        originals = {}
        for doc_id in {c.doc_id for c in answer.citations}:
            try:
                path = self.index.document(doc_id).path
            except KeyError:  # removed since it was retrieved
                continue
            if is_upload(path):
                originals[doc_id] = original_url(doc_id)
        return originals

    @staticmethod
    def _panel(turns: Sequence[dict[str, Any]]) -> str:
        return rendering.sources_panel([t["sources"] for t in turns if t.get("sources")], len(turns))

    def clear(self) -> tuple:
        """Clear chat: empty the question box, the chat, the sources panel and the turns."""
        return "", [], rendering.sources_panel([], 0), []

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
            answer = self.index.answer(question)
        except (ValueError, TypeError) as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception as error:  # noqa: BLE001
            raise gr.Error(describe_failure(error, "answering an /ask call"), print_exception=False) from None
        return {key: value for key, value in answer_json(answer).items() if key != "question"}

    # --- documents -----------------------------------------------------------------------

    def status(self) -> str:
        """The header's status line (documents, passages, model); redrawn after every change."""
        documents, passages = self.index.size
        return documents_tab.status_html(documents, passages, self.index.settings.model)

    def view(self, notices: str = "") -> tuple:
        """(notices, documents table, remove dropdown, status line)."""
        entries = self.index.documents()
        choices = documents_tab.document_choices(entries)
        return (
            notices,
            documents_tab.documents_table(entries),
            gr.Dropdown(choices=choices, value=None),
            self.status(),
        )

    def on_load(self) -> tuple:
        """(table, remove dropdown, status); (table, status) when read-only: it has no dropdown."""
        _, table, dropdown, status = self.view()
        return (table, status) if self.read_only else (table, dropdown, status)

    def on_upload(self, files: list[str] | str | None, progress=gr.Progress(track_tqdm=True)) -> tuple:
        """Store and index uploaded files; outputs (notices, table, dropdown, status, file box)."""
        if not files:
            return (*self.view(), None)
        if self.read_only:
            return (*self.view(documents_tab.notices_html([(False, READ_ONLY)])), None)
        files = [files] if isinstance(files, str) else list(files)
        try:
            outcomes = add_uploads(self.index, files, progress=lambda f, m: progress(f, desc=m))
            lines = [(o.ok, o.message) for o in outcomes]
        except Exception as error:  # noqa: BLE001
            names = ", ".join(Path(f).name for f in files)
            lines = [(False, f"{names}: not indexed: {describe_failure(error, 'an upload')}")]
        return (*self.view(documents_tab.notices_html(lines)), None)

    def on_remove_request(self, doc_id: str | None) -> tuple:
        """Remove, step one: say what will be removed (and whether its file is deleted) and
        ask; nothing changes yet. Outputs (notices, confirmation box, prompt, pending id)."""
        hidden = gr.Column(visible=False)
        if self.read_only:
            return documents_tab.notices_html([(False, READ_ONLY)]), hidden, "", None
        if not doc_id:
            return documents_tab.notices_html([(False, "Choose a document to remove first.")]), hidden, "", None
        try:
            document = self.index.document(doc_id)
        except KeyError:
            return documents_tab.notices_html([(False, f"{doc_id}: not in the index (already removed?)")]), hidden, "", None
        prompt = documents_tab.remove_prompt_html(document.title, doc_id, is_upload(document.path))
        return "", gr.Column(visible=True), prompt, doc_id

    def on_remove_confirmed(self, doc_id: str | None) -> tuple:
        """Remove, step two (the user said yes to `doc_id`, the id the prompt named even if the
        dropdown changed meanwhile). Outputs: `view()`, the hidden confirmation box, no pending id."""
        return (*self.on_remove(doc_id), gr.Column(visible=False), None)

    def on_remove_cancelled(self) -> tuple:
        """Outputs (notices, confirmation box, pending id)."""
        return documents_tab.notices_html([(True, NOTHING_REMOVED)]), gr.Column(visible=False), None

    def on_remove(self, doc_id: str | None) -> tuple:
        """Remove `doc_id` from the index, and its stored file when it is an upload; outputs
        `view()`. The page calls it only after the confirmation step."""
        if self.read_only:
            return self.view(documents_tab.notices_html([(False, READ_ONLY)]))
        if not doc_id:
            return self.view(documents_tab.notices_html([(False, "Choose a document to remove first.")]))
        try:
            title = remove_document(self.index, doc_id)
            lines = [(True, f"Removed “{title}” ({doc_id}).")]
        except KeyError:
            lines = [(False, f"{doc_id}: not in the index (already removed?)")]
        except Exception as error:  # noqa: BLE001
            lines = [(False, f"{doc_id}: not removed: {describe_failure(error, 'removing a document')}")]
        return self.view(documents_tab.notices_html(lines))

    def on_rebuild(self, progress=gr.Progress(track_tqdm=True)) -> tuple:
        """Rebuild: re-read every indexed file, report the counts and each skipped file;
        outputs `view()`."""
        if self.read_only:
            return self.view(documents_tab.notices_html([(False, READ_ONLY)]))
        progress(0, desc="re-reading the indexed files")
        try:
            report = self.index.refresh(progress=True)
            lines = [
                (
                    True,
                    f"Rebuilt: {len(report.added)} added, {len(report.updated)} updated, "
                    f"{len(report.unchanged)} unchanged, {len(report.removed)} removed.",
                )
            ]
            lines += [(False, f"{Path(s.path).name}: {s.reason}") for s in report.skipped]
        except Exception as error:  # noqa: BLE001
            lines = [(False, f"The rebuild failed: {describe_failure(error, 'a rebuild')}")]
        return self.view(documents_tab.notices_html(lines))

    # --- layout --------------------------------------------------------------------------

    def blocks(self) -> gr.Blocks:
        """The page: a Chat tab (chat, question box with its character counter, sources) and a
        Documents tab (the table; upload, remove and rebuild unless `read_only`)."""
        with gr.Blocks(title="qa · ask your documents", analytics_enabled=False) as demo:
            with gr.Row(equal_height=True):
                gr.HTML(
                    '<div class="qa-header"><b>qa</b> · answers quoted from your documents, '
                    "with exact sources</div>",
                    js_on_load=None,
                )
                status = gr.HTML(self.status(), elem_id="qa-status", js_on_load=None)
            with gr.Tabs():
                with gr.Tab("Chat", id="chat"):
                    self._chat_tab()
                with gr.Tab("Documents", id="documents"):
                    self._documents_tab(demo, status)
            gr.api(self.api_ask, api_name="ask")
        return demo

    def _chat_tab(self) -> None:
        turns = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
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
                    buttons=["copy_all"],
                )
                with gr.Row():
                    # No max_length: the browser would cut a long paste mid-word, silently.
                    # The counter shows the limit; `respond` refuses what is over it.
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="Ask a question about the documents…",
                        elem_id="qa-question",
                        max_lines=6,  # a long paste scrolls inside the box; the counter stays in view
                        scale=6,
                        autofocus=True,
                    )
                    ask = gr.Button("Ask", variant="primary", elem_id="qa-ask", scale=1, min_width=80)
                count = gr.HTML(rendering.question_count_html(0), elem_id="qa-count", js_on_load=None)
                clear = gr.Button("Clear chat", elem_id="qa-clear", size="sm")
            with gr.Column(scale=2):
                sources = gr.HTML(
                    rendering.sources_panel([]), label="Sources", elem_id="qa-sources", js_on_load=None
                )

        private = {"api_visibility": "private"}
        chat_io = dict(inputs=[question, turns], outputs=[question, chatbot, sources, turns, count], **private)
        question.submit(self.respond, show_progress="hidden", **chat_io)
        ask.click(self.respond, show_progress="hidden", **chat_io)
        question.change(None, [question], [count], js=rendering.COUNTER_JS, **private)  # browser only
        chatbot.example_select(self.pick_example, None, question, **private).then(
            self.respond, show_progress="hidden", **chat_io
        )
        clear.click(self.clear, None, [question, chatbot, sources, turns], **private)
        chatbot.clear(self.clear, None, [question, chatbot, sources, turns], **private)
        chatbot.like(self.on_like, [turns], None, **private)

    def _documents_tab(self, demo: gr.Blocks, status: gr.HTML) -> None:
        private = {"api_visibility": "private"}
        documents = gr.HTML(elem_id="qa-documents", js_on_load=None)
        demo.load(None, None, None, js=documents_tab.SORT_JS, **private)  # the table's sort buttons
        if self.read_only:  # no controls, and so no events that could change the index
            note = f'<p class="qa-empty">{rendering.text_html(READ_ONLY)}</p>'
            gr.HTML(note, elem_id="qa-read-only", js_on_load=None)
            demo.load(self.on_load, None, [documents, status], **private)
            return
        with gr.Row():
            with gr.Column():
                upload = gr.File(
                    label=f"Add documents ({' '.join(ALLOWED_SUFFIXES)}; "
                    f"up to {max_upload_bytes() // (1024 * 1024)} MB each)",
                    file_count="multiple",
                    file_types=list(ALLOWED_SUFFIXES),
                    elem_id="qa-upload",
                )
            with gr.Column():
                remove_choice = gr.Dropdown(label="Remove a document", choices=[], elem_id="qa-remove-choice")
                with gr.Row():
                    remove = gr.Button("Remove…", variant="stop", elem_id="qa-remove")
                    rebuild = gr.Button("Rebuild (re-read all files)", elem_id="qa-rebuild")
                pending = gr.State(None)  # the id the confirmation names, whatever the dropdown says later
                with gr.Column(visible=False, elem_id="qa-remove-confirm") as confirm:
                    prompt = gr.HTML(elem_id="qa-remove-prompt", js_on_load=None)
                    with gr.Row():
                        yes = gr.Button("Yes, remove", variant="stop", elem_id="qa-remove-yes", min_width=80)
                        cancel = gr.Button("Cancel", elem_id="qa-remove-cancel", min_width=80)
        notices = gr.HTML(elem_id="qa-notices", js_on_load=None)

        view = [notices, documents, remove_choice, status]
        upload.upload(self.on_upload, [upload], [*view, upload], **private)
        remove.click(self.on_remove_request, [remove_choice], [notices, confirm, prompt, pending], **private)
        yes.click(self.on_remove_confirmed, [pending], [*view, confirm, pending], **private)
        cancel.click(self.on_remove_cancelled, None, [notices, confirm, pending], **private)
        rebuild.click(self.on_rebuild, None, view, **private)
        demo.load(self.on_load, None, [documents, remove_choice, status], **private)


def build_app(index: Index, examples: Sequence[str] = EXAMPLES, read_only: bool = False) -> gr.Blocks:
    """The Gradio app over `index` (not launched); `read_only` as in `ChatApp`."""
    return ChatApp(index, examples, read_only=read_only).blocks()


def theme() -> gr.themes.Base:
    """Gradio's Soft theme with system fonts, so the page loads nothing from the internet."""
    # System fonts only: the default theme would fetch Google Fonts, and qa runs offline.
    return gr.themes.Soft(
        font=["ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "monospace"],
    )
