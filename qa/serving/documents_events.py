"""The Documents tab of the web chat: its Gradio controls and what each does.

Upload, remove (in two steps) and rebuild go through the `QaService` the chat and the JSON API
share, so a read-only server refuses them the same way everywhere; the markup comes from
`qa.serving.documents_tab`, which escapes everything a document supplies.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls

import gradio as gr  # noqa: E402

from qa.serving import documents_tab, rendering  # noqa: E402
from qa.serving.service import QaService, ServiceError  # noqa: E402
from qa.serving.uploads import ALLOWED_SUFFIXES, is_upload, max_upload_bytes  # noqa: E402

READ_ONLY = "This server is read-only: documents cannot be added, removed or rebuilt here."
NOTHING_REMOVED = "Nothing removed."
CHOOSE_FIRST = "Choose a document to remove first."
PRIVATE = {"api_visibility": "private"}  # the page's own events, not part of the HTTP API
# The page's load-time refresh of what the server already drew: without a progress display, so
# the status line and table never dim to Gradio's 20 % "pending" opacity (unreadable, and an
# accessibility contrast failure while it lasts).
QUIET_REFRESH = {**PRIVATE, "show_progress": "hidden"}


def _notices(ok: bool, line: str) -> str:
    return documents_tab.notices_html([(ok, line)])


class DocumentsTab:
    """The handlers of the Documents tab over one `QaService` (shared by all browser sessions)."""

    def __init__(self, service: QaService) -> None:
        self.service = service

    def status(self) -> str:
        """The header's status line (documents, passages, model); redrawn after every change."""
        documents, passages = self.service.index.size
        return documents_tab.status_html(documents, passages, self.service.index.settings.model)

    def view(self, notices: str = "") -> tuple:
        """(notices, documents table, remove dropdown, status line)."""
        entries = self.service.documents()
        choices = documents_tab.document_choices(entries)
        return notices, documents_tab.documents_table(entries), gr.Dropdown(choices=choices, value=None), self.status()

    def on_load(self) -> tuple:
        """(table, remove dropdown, status); (table, status) when read-only: it has no dropdown."""
        _, table, dropdown, status = self.view()
        return (table, status) if self.service.read_only else (table, dropdown, status)

    def on_upload(self, files: list[str] | str | None, progress=gr.Progress(track_tqdm=True)) -> tuple:
        """Store and index uploaded files; outputs (notices, table, dropdown, status, file box)."""
        if not files:
            return (*self.view(), None)
        if self.service.read_only:
            return (*self.view(_notices(False, READ_ONLY)), None)
        files = [files] if isinstance(files, str) else list(files)
        try:
            outcomes = self.service.upload(files, progress=lambda f, m: progress(f, desc=m))
            lines = [(o.ok, o.message) for o in outcomes]
        except ServiceError as error:
            names = ", ".join(Path(f).name for f in files)
            lines = [(False, f"{names}: not indexed: {error}")]
        return (*self.view(documents_tab.notices_html(lines)), None)

    def on_remove_request(self, doc_id: str | None) -> tuple:
        """Remove, step one: say what will be removed (and whether its file is deleted) and
        ask; nothing changes yet. Outputs (notices, confirmation box, prompt, pending id)."""
        hidden = gr.Column(visible=False)
        if self.service.read_only:
            return _notices(False, READ_ONLY), hidden, "", None
        if not doc_id:
            return _notices(False, CHOOSE_FIRST), hidden, "", None
        try:
            document = self.service.document(doc_id)
        except ServiceError as error:
            return _notices(False, str(error)), hidden, "", None
        prompt = documents_tab.remove_prompt_html(document.title, doc_id, is_upload(document.path))
        return "", gr.Column(visible=True), prompt, doc_id

    def on_remove_confirmed(self, doc_id: str | None) -> tuple:
        """Remove, step two (the user said yes to `doc_id`, the id the prompt named even if the
        dropdown changed meanwhile). Outputs: `view()`, the hidden confirmation box, no pending id."""
        return (*self.on_remove(doc_id), gr.Column(visible=False), None)

    def on_remove_cancelled(self) -> tuple:
        """Outputs (notices, confirmation box, pending id)."""
        return _notices(True, NOTHING_REMOVED), gr.Column(visible=False), None

    def on_remove(self, doc_id: str | None) -> tuple:
        """Remove `doc_id` from the index, and its stored file when it is an upload; outputs
        `view()`. The page calls it only after the confirmation step."""
        if self.service.read_only:
            return self.view(_notices(False, READ_ONLY))
        if not doc_id:
            return self.view(_notices(False, CHOOSE_FIRST))
        try:
            title = self.service.remove(doc_id)
            line = (True, f"Removed “{title}” ({doc_id}).")
        except ServiceError as error:
            line = (False, str(error) if error.status == 404 else f"{doc_id}: not removed: {error}")
        return self.view(_notices(*line))

    def on_rebuild(self, progress=gr.Progress(track_tqdm=True)) -> tuple:
        """Rebuild: re-read every indexed file, report the counts and each skipped file;
        outputs `view()`."""
        if self.service.read_only:
            return self.view(_notices(False, READ_ONLY))
        progress(0, desc="re-reading the indexed files")
        try:
            report = self.service.rebuild(progress=True)
        except ServiceError as error:
            return self.view(_notices(False, f"The rebuild failed: {error}"))
        counts = (
            f"Rebuilt: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed."
        )
        lines = [(True, counts)] + [(False, f"{Path(s.path).name}: {s.reason}") for s in report.skipped]
        return self.view(documents_tab.notices_html(lines))

    def layout(self, demo: gr.Blocks, status: gr.HTML) -> None:
        """The tab's controls inside the current `gr.Tab`; read-only: the table and a note only,
        so no event on the page could change the index."""
        documents = gr.HTML(elem_id="qa-documents", js_on_load=None)
        demo.load(None, None, None, js=documents_tab.SORT_JS, **PRIVATE)  # the table's sort buttons
        if self.service.read_only:
            note = f'<p class="qa-empty">{rendering.text_html(READ_ONLY)}</p>'
            gr.HTML(note, elem_id="qa-read-only", js_on_load=None)
            demo.load(self.on_load, None, [documents, status], **QUIET_REFRESH)
            return
        remove_choice = self._controls(documents, status)
        demo.load(self.on_load, None, [documents, remove_choice, status], **QUIET_REFRESH)

    def _controls(self, documents: gr.HTML, status: gr.HTML) -> gr.Dropdown:
        """Upload, remove (with its confirmation) and rebuild, wired; returns the remove dropdown."""
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
        upload.upload(self.on_upload, [upload], [*view, upload], **PRIVATE)
        remove.click(self.on_remove_request, [remove_choice], [notices, confirm, prompt, pending], **PRIVATE)
        yes.click(self.on_remove_confirmed, [pending], [*view, confirm, pending], **PRIVATE)
        cancel.click(self.on_remove_cancelled, None, [notices, confirm, pending], **PRIVATE)
        rebuild.click(self.on_rebuild, None, view, **PRIVATE)
        return remove_choice
