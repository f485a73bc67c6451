"""The web chat end to end: `python app.py` in a subprocess, driven by a real headless Chromium.

Debian's /usr/bin/chromium through Playwright for Python (Playwright's own browser download is
not possible offline). Without it the browser tests are skipped, except under CI (env CI set),
where they fail. The time from submit to the first answer text is printed and written to
`<tmp>/first-answer-ms.txt`; `QA_UPDATE_SCREENSHOT=1` also refreshes docs/screenshot.png.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import PROJECT, SEED_FILE, SEEDS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
BACKSTOP = "What is the US backstop position?"
QUOKKA_MD = """# Quokka notes <script>alert("title")</script>

The Quokka Council meets every Tuesday in the old mill <script>alert(1)</script> <img src=x onerror=alert(2)> [minutes](javascript:alert(3)).

Nothing else is recorded about Lindenhof.
"""
GLACIER_TXT = "The Vatnajökull research hut stores exactly forty-two sledges for the winter season.\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """The app on a free port with its own index and data folders; yields (url, data dir)."""
    root = tmp_path_factory.mktemp("web")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_AUTH_")}
    env.update(
        QA_INDEX=str(root / "index"), QA_DATA=str(root / "data"), QA_SEEDS=str(SEEDS),
        GRADIO_TEMP_DIR=str(root / "gradio-tmp"), PYTHONUNBUFFERED="1",
    )
    log = open(root / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, str(PROJECT / "app.py"), "--port", str(port)],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"the app exited with {process.returncode}:\n{(root / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not answer HTTP in time:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, root / "data"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    assert "Traceback" not in (root / "server.log").read_text(), "the server logged a traceback"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, server):
    """A fresh page that records dialogs (alert etc.) and calls to window.alert."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.add_init_script("window.__alerts = 0; window.alert = () => { window.__alerts += 1; };")
    page.set_default_timeout(30_000)
    page.goto(server[0])
    page.wait_for_selector("#qa-question textarea")
    yield page
    context.close()


def ask(page, question: str) -> float:
    """Type and submit `question`; wait for its answer. Returns ms from submit to first text."""
    answers = page.locator("#qa-chat .qa-answer, #qa-chat .qa-notice").count()
    page.evaluate(
        """(count) => {
            window.__firstAnswerMs = null;
            const chat = document.querySelector('#qa-chat');
            const seen = () => chat.querySelectorAll('.qa-answer, .qa-notice').length > count;
            const observer = new MutationObserver(() => {
                if (seen()) { window.__firstAnswerMs = performance.now() - window.__submitAt; observer.disconnect(); }
            });
            observer.observe(chat, {childList: true, subtree: true, characterData: true});
            window.__submitAt = performance.now();
        }""",
        answers,
    )
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function("window.__firstAnswerMs !== null")
    page.wait_for_selector(f"#qa-sources .qa-panel[data-turns='{answers + 1}']", state="attached")
    return page.evaluate("window.__firstAnswerMs")


def last_answer(page):
    return page.locator("#qa-chat .qa-answer, #qa-chat .qa-notice").last


def test_api_answers_through_gradio_client(server):
    from gradio_client import Client

    client = Client(server[0], verbose=False)
    result = client.predict(BACKSTOP, api_name="/ask")
    assert set(result) == {"text", "citations", "abstained"}
    assert result["abstained"] is False and result["text"].endswith("[1]")
    citation = result["citations"][0]
    assert citation["number"] == 1 and citation["paragraph"] == 6
    assert SEED_FILE.read_text(encoding="utf-8")[citation["start"] : citation["end"]] == citation["quote"]
    assert "backstop" in citation["quote"]
    nothing = client.predict("Who won the 2022 World Cup?", api_name="/ask")
    assert nothing == {"text": "The documents don't say.", "citations": [], "abstained": True}
    with pytest.raises(Exception, match="question is empty"):
        client.predict("   ", api_name="/ask")
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/ask"]


def test_chat_streams_a_cited_answer_and_shows_its_sources(page, server, tmp_path: Path):
    assert page.get_by_text(BACKSTOP).count() >= 1  # offered as an example on first load
    status = page.locator("#qa-status").inner_text()
    assert "1 document · 7 passages · model all-MiniLM-L6-v2" in status

    elapsed = ask(page, BACKSTOP)
    line = f"submit -> first answer text in the browser: {elapsed:.0f} ms (bar: 1000 ms)"
    print(f"\n{line}")
    (tmp_path / "first-answer-ms.txt").write_text(f"{elapsed:.1f}\n")
    (tmp_path.parent / "first-answer-ms.txt").write_text(line + "\n")

    answer = last_answer(page)
    assert "the US stance has not shifted" in answer.inner_text()
    marker = answer.locator("a.qa-cite").first
    assert marker.inner_text() == "[1]" and marker.get_attribute("href") == "#src-1-1"

    card = page.locator("#src-1-1")
    assert "Starmer's coalition of the willing" in card.locator(".qa-title").inner_text()
    meta = card.locator(".qa-meta").inner_text()
    assert "www.bbc.com" in meta and "paragraph 6" in meta
    start, end = map(int, card.locator(".qa-meta code").inner_text().split(":"))
    quoted = card.locator("mark").inner_text()
    assert quoted == SEED_FILE.read_text(encoding="utf-8")[start:end]
    assert quoted.startswith("When asked about crucial US military support") and "backstop" in quoted
    page.screenshot(path=str(tmp_path / "chat.png"))
    if os.environ.get("QA_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "chat.png", PROJECT / "docs" / "screenshot.png")
    also = page.locator("#qa-sources details.qa-also")
    assert not also.locator(".qa-retrieved").first.is_visible()
    also.locator("summary").click()
    assert also.locator(".qa-retrieved").first.is_visible()

    marker.click()
    page.wait_for_function("location.hash === '#src-1-1'")
    assert page.evaluate("document.querySelector('#src-1-1').matches(':target')")

    # Thumbs up -> one line in the feedback file with question, answer and citations.
    page.locator("#qa-chat button[aria-label='Like']").first.click()
    feedback = server[1] / "feedback.jsonl"
    deadline = time.monotonic() + 15
    while not feedback.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    entry = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert entry["rating"] == "up" and entry["question"] == BACKSTOP
    assert entry["answer"].endswith("[1]") and entry["citations"][0]["quote"] == quoted


def test_followups_use_the_conversation_and_clear_forgets_it(page):
    page.locator("#qa-chat").get_by_text("Who is Jonathan Powell?").click()  # an example question
    page.wait_for_selector("#qa-sources .qa-panel[data-turns='1']", state="attached")
    assert "Jonathan Powell" in last_answer(page).inner_text()
    ask(page, "Who is he?")
    followup = last_answer(page)
    assert "Jonathan Powell" in followup.inner_text()
    assert followup.locator("a.qa-cite").first.get_attribute("href") == "#src-2-1"
    sections = page.locator("#qa-sources .qa-sources")
    assert sections.count() == 2 and sections.first.get_attribute("data-turn") == "2"  # latest first

    page.locator("#qa-clear").click()
    page.wait_for_function("document.querySelectorAll('#qa-chat .qa-answer').length === 0")
    assert page.locator("#qa-sources .qa-sources").count() == 0
    ask(page, "Who is he?")  # no conversation any more: nothing to resolve "he" against
    assert "The documents don't say." in last_answer(page).inner_text()


def test_unanswerable_question_says_so_without_sources_and_empty_question_does_nothing(page):
    ask(page, "Who won the 2022 World Cup?")
    reply = last_answer(page)
    assert "The documents don't say." in reply.inner_text() and reply.locator("a").count() == 0
    latest = page.locator("#qa-sources .qa-sources").first
    assert "No sources" in latest.inner_text() and latest.locator(".qa-source").count() == 0

    messages = page.locator("#qa-chat .qa-question").count()
    box = page.locator("#qa-question textarea")
    box.fill("   ")
    box.press("Enter")
    page.locator("#qa-ask").click()
    time.sleep(1.0)
    assert page.locator("#qa-chat .qa-question").count() == messages

    # The box holds 2,000 characters; a long paste after a question is still answered (the
    # follow-up context is cut to fit, never an over-limit error) and never shows a traceback.
    ask(page, "x" * 2100)
    assert "The documents don't say." in last_answer(page).inner_text()
    assert "Traceback" not in page.content()


def test_uploads_are_answerable_at_once_and_render_as_text(page, server, tmp_path: Path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "quokka.md").write_text(QUOKKA_MD, encoding="utf-8")
    (folder / "glacier.txt").write_text(GLACIER_TXT, encoding="utf-8")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 not really a pdf")

    page.get_by_role("tab", name="Documents").click()
    page.wait_for_selector("#qa-documents table")
    assert page.locator("#qa-documents tbody tr").count() == 1
    page.locator("#qa-upload input[type=file]").set_input_files(
        [str(folder / n) for n in ("quokka.md", "glacier.txt", "scan.pdf")]
    )
    page.wait_for_selector("#qa-notices li")
    notices = page.locator("#qa-notices").inner_text()
    assert "quokka.md: added as" in notices and "glacier.txt: added as" in notices
    assert "scan.pdf: cannot be indexed: not a readable PDF" in notices
    rows = page.locator("#qa-documents tbody tr")
    assert rows.count() == 3
    assert '<script>alert("title")</script>' in page.locator("#qa-documents").inner_text()
    assert "3 documents" in page.locator("#qa-status").inner_text()
    stored = sorted(p.name for p in (server[1] / "uploads").iterdir())
    assert stored == ["glacier.txt", "quokka.md"]

    page.get_by_role("tab", name="Chat").click()
    ask(page, "How many sledges does the research hut store?")
    assert "forty-two sledges" in last_answer(page).inner_text()
    assert "Vatnajökull" in page.locator("#qa-sources .qa-source").first.inner_text()

    ask(page, "When does the Quokka Council meet?")
    text = last_answer(page).inner_text()
    assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(2)>" in text
    assert "[minutes](javascript:alert(3))" in text
    card = page.locator("#qa-sources .qa-source").first
    assert "<img src=x onerror=alert(2)>" in card.locator("mark").inner_text()
    time.sleep(0.5)  # give any injected handler the chance to run
    assert page.dialogs == [] and page.evaluate("window.__alerts") == 0
    for selector in ("img[src='x']", "#qa-chat script", "#qa-sources script", "#qa-documents script", "a[href^='javascript']"):
        assert page.locator(selector).count() == 0, selector
    page.screenshot(path=str(tmp_path / "xss.png"))


def test_auth_needs_both_variables(monkeypatch, capsys):
    from qa.cli import main
    from qa.web import auth_from_env

    monkeypatch.delenv("QA_AUTH_USER", raising=False)
    monkeypatch.delenv("QA_AUTH_PASSWORD", raising=False)
    assert auth_from_env() is None
    monkeypatch.setenv("QA_AUTH_USER", "ada")
    assert main(["serve", "--port", "1"]) == 2
    assert "set both QA_AUTH_USER and QA_AUTH_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("QA_AUTH_PASSWORD", "secret")
    assert auth_from_env() == ("ada", "secret")


# --- the handlers without a browser ---------------------------------------------------------------


@pytest.fixture()
def app(tmp_path: Path, embedder):
    from qa.index import Index
    from qa.web import ChatApp

    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "extra.txt").write_text(GLACIER_TXT, encoding="utf-8")
    return ChatApp(Index.build([corpus], tmp_path / "index"))


def test_respond_streams_growing_answers_and_ignores_empty_questions(seed_index):
    import gradio as gr

    from qa.web import ChatApp

    app = ChatApp(seed_index)

    assert [type(v) for v in next(app.respond("  ", []))] == [type(gr.skip())] * 4
    steps = list(app.respond("What is happening in Kursk and what did Ukrainian soldiers say?", []))
    first_box, first_chat, first_panel, _ = steps[0]
    assert first_box == "" and first_chat[-1]["content"] == '<span class="qa-thinking">…</span>'
    assert "Kursk" in first_chat[-2]["content"]  # the question shows at once
    counts = [chat[-1]["content"].count("qa-cite") for _, chat, _, _ in steps[1:]]
    assert counts == sorted(counts) and counts[-1] >= 2 and len(steps) == counts[-1] + 1
    _, _, panel, turns = steps[-1]
    assert 'data-turns="1"' in panel and turns[0]["citations"] and turns[0]["id"]
    powell = list(app.respond("Who is Jonathan Powell?", []))[-1][3]
    follow = list(app.respond("Who is he?", powell))[-1]
    assert "Jonathan Powell" in follow[1][-1]["content"] and len(follow[3]) == 2
    assert "documents don" in list(app.respond("Who is he?", []))[-1][1][-1]["content"]


def test_remove_and_rebuild_from_the_documents_tab(app):
    doc_id = next(e.doc_id for e in app.index.documents() if e.path.endswith("extra.txt"))
    notices, table, _, status = app.on_remove(doc_id)
    assert "Removed “The Vatnajökull research hut" in notices and "extra.txt" not in table
    assert "1 document · 7 passages" in status
    assert "Choose a document" in app.on_remove(None)[0]
    assert "not in the index" in app.on_remove(doc_id)[0]
    notices, table, _, _ = app.on_rebuild()
    assert "Rebuilt: 0 added, 0 updated, 1 unchanged, 0 removed." in notices  # removed stays removed
