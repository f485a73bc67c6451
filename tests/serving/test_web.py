"""The web chat end to end: `python app.py` in a subprocess, driven by a real headless Chromium.

Debian's /usr/bin/chromium through Playwright for Python (Playwright's own browser download is
not possible offline). Without it the browser tests are skipped, except under CI (env CI set),
where they fail. The time from submit to the first answer text is printed and written to
`<tmp>/first-answer-ms.txt`; `QA_UPDATE_SCREENSHOT=1` also refreshes docs/screenshot.png.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import PROJECT, SEED_FILE, SEEDS
from qa.index.retrieval import MAX_QUESTION_CHARS

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
        # Only what the server logged while serving counts: on shutdown uvicorn cancels any
        # connection a browser left open and logs that cancellation with a traceback.
        served_log = (root / "server.log").read_text()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    assert "Traceback" not in served_log, "the server logged a traceback"


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
    open_chat(page, server[0])
    yield page
    context.close()


def open_chat(page, url: str) -> None:
    """Open the app at `url` and wait until both the question box and the chat are mounted:
    under load Gradio mounted the box first, and a test then read (or observed) a chat that
    was not there yet."""
    page.goto(url)
    page.wait_for_selector("#qa-question textarea")
    page.wait_for_selector("#qa-chat", state="attached")


def upload_in_page(page, paths: list[Path]) -> str:
    """Upload `paths` through the Documents tab and wait for the notices; returns their text."""
    page.get_by_role("tab", name="Documents").click()
    page.locator("#qa-upload input[type=file]").set_input_files([str(p) for p in paths])
    page.wait_for_selector("#qa-notices li")
    return page.locator("#qa-notices").inner_text()


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
    wait_announced(page, answers + 1)
    return page.evaluate("window.__firstAnswerMs")


def wait_announced(page, turn: int) -> str:
    """Wait until the live region announces answer `turn` (the downloads are updated with it)."""
    page.wait_for_function(
        "(turn) => (document.querySelector('#qa-announcer') || {}).textContent?.startsWith(`Answer ${turn}:`)", arg=turn
    )
    return page.locator("#qa-announcer").text_content()


def last_answer(page):
    return page.locator("#qa-chat .qa-answer, #qa-chat .qa-notice").last


def test_api_answers_through_gradio_client(server):
    from gradio_client import Client

    client = Client(server[0], verbose=False)
    result = client.predict(BACKSTOP, api_name="/ask")
    assert set(result) == {"text", "citations", "abstained", "confidence", "short_answer"}
    assert result["abstained"] is False and result["text"].endswith("[1]")
    short = result["short_answer"]
    assert short["number"] == 1 and short["text"] in result["citations"][0]["quote"]
    assert SEED_FILE.read_text(encoding="utf-8")[short["start"] : short["end"]] == short["text"]
    citation = result["citations"][0]
    assert citation["number"] == 1 and citation["paragraph"] in citation["paragraphs"]
    assert SEED_FILE.read_text(encoding="utf-8")[citation["start"] : citation["end"]] == citation["quote"]
    assert "backstop" in citation["quote"]
    nothing = client.predict("Who won the 2022 World Cup?", api_name="/ask")
    assert {k: v for k, v in nothing.items() if k != "confidence"} == {
        "text": "The documents don't say.", "citations": [], "abstained": True, "short_answer": None
    }
    assert 0.0 <= nothing["confidence"] <= 1.0
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
    page.wait_for_function(SETTLED_JS)  # the download buttons done fading in
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
    # The file appears when it is opened, before its line is written: wait for a whole line.
    deadline = time.monotonic() + 15
    while not (feedback.exists() and feedback.read_bytes().endswith(b"\n")) and time.monotonic() < deadline:
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

    # A 2,000-character question after a question is still answered (the follow-up context is
    # cut to fit, never an over-limit error) and never shows a traceback. Events run in order,
    # so once it is answered the blank ones before it have run too: they added no message.
    ask(page, "x" * MAX_QUESTION_CHARS)
    assert "The documents don't say." in last_answer(page).inner_text()
    assert page.locator("#qa-chat .qa-question").count() == messages + 1
    assert "Traceback" not in page.content()


def test_a_question_submitted_while_the_answer_before_streams_is_answered_after_it(page):
    """Gradio drops a submission while the same event is pending unless told otherwise; here
    the second question is typed and sent as soon as the first one shows (its answer, two
    quotes, streams for a while), and both must be answered, in order, each once."""
    first, second = "Why might Putin have given an equivocal response to the ceasefire?", BACKSTOP
    questions = page.locator("#qa-chat .qa-question").count()
    answers = page.locator("#qa-chat .qa-answer, #qa-chat .qa-notice").count()
    box = page.locator("#qa-question textarea")
    box.fill(first)
    box.press("Enter")
    page.wait_for_function(
        "(n) => document.querySelectorAll('#qa-chat .qa-question').length > n", arg=questions
    )
    box.fill(second)
    box.press("Enter")
    page.wait_for_selector(f"#qa-sources .qa-panel[data-turns='{answers + 2}']", state="attached")
    asked = page.locator("#qa-chat .qa-question").all_inner_texts()[questions:]
    assert asked == [first, second]
    replies = page.locator("#qa-chat .qa-answer").all_inner_texts()[answers:]
    assert "This urgency" in replies[0] and "the US stance has not shifted" in replies[1]


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
    # An injected <img src=x onerror=…> would fire when its load fails: let a load of the same
    # bad address fail first, so any such handler has had its turn.
    page.evaluate("new Promise(done => { const probe = new Image(); probe.onerror = done; probe.src = 'x'; })")
    assert page.dialogs == [] and page.evaluate("window.__alerts") == 0
    for selector in ("img[src='x']", "#qa-chat script", "#qa-sources script", "#qa-documents script", "a[href^='javascript']"):
        assert page.locator(selector).count() == 0, selector
    page.screenshot(path=str(tmp_path / "xss.png"))


# --- issue 11: follow-ups, the question box, links, errors, sources, documents -------------------

LONG_FILLER = " Please quote what the Prime Minister said about US military support for a European-led initiative."
LONG_QUESTION = BACKSTOP + LONG_FILLER * 19  # 1,985 characters, under the 2,000 limit
ZEBRA_MD = """# Farm notes

The Lindenhof zebras graze on clover in the north meadow every morning.

A wooden fence was painted blue in 2019.

At night the Lindenhof zebras sleep in the old stone barn by the river.
"""
ZEBRA_QUESTION = "What do the Lindenhof zebras do in the morning and at night?"
HERON_TXT = "A grey heron fishes at the Tarnwick weir at dawn.\n"
POND_TXT = "The Tarnwick pond freezes over in January and thaws in March.\n"


def counter(page):
    return page.locator("#qa-count .qa-count")


def test_a_long_question_then_a_short_followup_both_get_answers(page):
    assert 1900 < len(LONG_QUESTION) <= MAX_QUESTION_CHARS
    ask(page, LONG_QUESTION)
    assert "the US stance has not shifted" in last_answer(page).inner_text()
    ask(page, "When will military leaders meet?")
    followup = last_answer(page)
    assert followup.get_attribute("class") == "qa-answer"  # an answer, not an error notice
    assert "military leaders scheduled to meet in the UK next Thursday" in followup.inner_text()
    assert page.locator("#qa-chat .qa-error").count() == 0


def test_counter_shows_the_limit_and_an_overlong_paste_is_refused_whole(page):
    box = page.locator("#qa-question textarea")
    assert box.get_attribute("maxlength") is None  # nothing cuts a paste silently
    assert counter(page).inner_text() == "0 / 2,000 characters"
    box.fill("Who is Jonathan Powell?")
    page.wait_for_selector("#qa-count .qa-count[data-chars='23']")
    assert counter(page).inner_text() == "23 / 2,000 characters"

    pasted = " ".join(f"word{i}" for i in range(800))
    assert len(pasted) == 6289
    box.fill(pasted)
    page.wait_for_selector(f"#qa-count .qa-over[data-chars='{len(pasted)}']")
    assert counter(page).inner_text() == "6,289 / 2,000 characters: too long to ask; shorten it by 4,289."
    assert box.input_value() == pasted  # whole, not cut at 2,000 mid-word
    messages = page.locator("#qa-chat .qa-question").count()
    box.press("Enter")
    page.wait_for_selector("#qa-count .qa-refused")
    assert counter(page).inner_text() == (
        "Not asked: the question is 6,289 characters long; the limit is 2,000. "
        "Shorten it by 4,289 characters and ask again."
    )
    assert page.locator("#qa-chat .qa-question").count() == messages and box.input_value() == pasted

    ask(page, "Who is Jonathan Powell?")
    page.wait_for_selector("#qa-count .qa-count[data-chars='0']")  # the box was emptied
    assert "Jonathan Powell" in last_answer(page).inner_text()


LABELS_OVER_MESSAGES_JS = """() => {
    const log = document.querySelector('#qa-chat [role=log]');
    log.scrollTop = Math.floor((log.scrollHeight - log.clientHeight) / 2);
    const box = log.getBoundingClientRect();
    const hits = [];
    for (let x = box.left + 4; x < box.right - 4; x += 16) {
        for (let y = box.top + 2; y < box.top + 48; y += 6) {
            const element = document.elementFromPoint(x, y);
            if (element && element.closest('label, [data-testid=block-label]')) hits.push([x, y]);
        }
    }
    return {scrolls: log.scrollHeight > log.clientHeight, hits: hits.length};
}"""


def test_every_example_question_is_answered(seed_index):
    """The questions the empty chat offers are answered from the seed, each with a quote."""
    from qa.serving.web import EXAMPLES

    for question in EXAMPLES:
        answer = seed_index.answer(question)
        assert not answer.abstained and answer.citations, question


def test_no_label_sits_over_messages_once_the_chat_scrolls(page):
    for question in (BACKSTOP, "What is happening in Kursk?", "When will military leaders meet?"):
        ask(page, question)
    assert page.locator("#qa-chat [data-testid=block-label]").count() == 0
    assert page.evaluate(LABELS_OVER_MESSAGES_JS) == {"scrolls": True, "hits": 0}


STYLE_JS = "e => { const s = getComputedStyle(e); return [s.color, s.textDecorationLine, s.outlineStyle, s.cursor]; }"


def test_citation_markers_look_and_work_like_links(page):
    ask(page, BACKSTOP)
    answer = last_answer(page)
    marker = answer.locator("a.qa-cite").first
    text_colour = answer.locator("p").evaluate("e => getComputedStyle(e).color")
    colour, underline, outline, cursor = marker.evaluate(STYLE_JS)
    assert colour != text_colour and underline == "none" and outline == "none" and cursor == "pointer"
    marker.hover()
    page.wait_for_function("document.querySelector('#qa-chat a.qa-cite:hover') !== null")
    assert marker.evaluate(STYLE_JS)[1] == "underline"

    page.mouse.move(0, 0)
    box = answer.locator("p").bounding_box()
    page.mouse.click(box["x"] + 2, box["y"] + 4)  # start keyboard navigation in the answer text
    page.keyboard.press("Tab")
    page.wait_for_function("document.activeElement && document.activeElement.matches('a.qa-cite:focus-visible')")
    assert marker.evaluate(STYLE_JS)[2] == "solid"  # a visible focus ring
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash === '#src-1-1'")


def test_error_replies_are_marked_and_get_no_feedback_buttons(page):
    ask(page, BACKSTOP)
    likes = page.locator("#qa-chat button[aria-label='Like']:visible")
    assert likes.count() == 1
    ask(page, "\x01\x02")  # only control characters: the library refuses it as an empty question
    error = last_answer(page)
    assert "qa-error" in error.get_attribute("class") and error.get_attribute("role") == "alert"
    assert error.inner_text().startswith("⚠ Not answered: question is empty")
    assert likes.count() == 1  # still only the answer's
    assert page.locator("#qa-chat button[aria-label='Dislike']:visible").count() == 1


def test_source_card_names_every_quoted_paragraph_and_shows_headings_without_marks(page, tmp_path: Path):
    (tmp_path / "zebra.md").write_text(ZEBRA_MD, encoding="utf-8")
    assert "zebra.md: added as “Farm notes”" in upload_in_page(page, [tmp_path / "zebra.md"])
    page.get_by_role("tab", name="Chat").click()
    ask(page, ZEBRA_QUESTION)
    card = page.locator("#src-1-1")
    assert "zebra.md · section “Farm notes” · paragraphs 2 and 4 · characters" in card.locator(".qa-meta").inner_text()
    passage = card.locator(".qa-passage").inner_text()
    assert passage.startswith("Farm notes") and "#" not in passage
    assert card.locator("mark").all_inner_texts() == [
        "The Lindenhof zebras graze on clover in the north meadow every morning.",
        "At night the Lindenhof zebras sleep in the old stone barn by the river.",
    ]


def test_a_pdf_citation_names_its_page_and_opens_the_stored_original_there(page, tmp_path: Path):
    from pdf_files import pdf_bytes
    from pdf_files import REPORT_PAGES, SLEDGES

    (tmp_path / "tarnwick-report.pdf").write_bytes(pdf_bytes(REPORT_PAGES))
    assert "tarnwick-report.pdf: added as “Tarnwick report”" in upload_in_page(page, [tmp_path / "tarnwick-report.pdf"])
    page.get_by_role("tab", name="Chat").click()
    ask(page, SLEDGES)
    card = page.locator("#qa-sources .qa-source[data-doc='tarnwick-report']").first
    assert "page 3 · paragraph 3 · characters" in card.locator(".qa-meta").inner_text()
    link = card.locator("a.qa-original")
    assert link.inner_text() == "open the original at page 3"
    assert link.get_attribute("href") == "/api/documents/tarnwick-report/original#page=3"
    with page.expect_popup() as opened:
        link.click()
    popup = opened.value
    assert popup.url.endswith("/api/documents/tarnwick-report/original#page=3")
    popup.close()
    response = page.request.get(page.url.rstrip("/") + "/api/documents/tarnwick-report/original")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body() == (tmp_path / "tarnwick-report.pdf").read_bytes()


def titles(page) -> list[str]:
    return page.locator("#qa-documents tbody tr td:first-child").all_inner_texts()


def added_stamps(page) -> list[str]:
    """The Added column's exact times (ISO 8601), as the rows are shown."""
    cells = page.locator("#qa-documents tbody tr td:nth-child(5)")
    return cells.evaluate_all("cells => cells.map(c => c.dataset.sort)")


def test_documents_table_is_newest_first_and_sorts_by_any_column(page, tmp_path: Path):
    (tmp_path / "heron.txt").write_text(HERON_TXT, encoding="utf-8")
    upload_in_page(page, [tmp_path / "heron.txt"])
    shown = titles(page)  # the seed, what earlier tests uploaded, the heron note
    assert shown[0].startswith("A grey heron") and shown[-1].startswith("Starmer")
    assert added_stamps(page) == sorted(added_stamps(page), reverse=True)  # newest first
    added = page.locator("#qa-documents th", has_text="Added")
    assert added.get_attribute("aria-sort") == "descending"

    title = page.locator("#qa-documents th", has_text="Title")
    title.locator("button").click()
    page.wait_for_function("document.querySelector('#qa-documents th').getAttribute('aria-sort') === 'ascending'")
    assert titles(page) == sorted(shown, key=str.lower) and added.get_attribute("aria-sort") == "none"
    title.locator("button").click()
    page.wait_for_function("document.querySelector('#qa-documents th').getAttribute('aria-sort') === 'descending'")
    assert titles(page) == sorted(shown, key=str.lower, reverse=True)

    added.locator("button").focus()  # the headings are buttons: the keyboard sorts too
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.querySelector('#qa-documents th:nth-child(5)').getAttribute('aria-sort') === 'ascending'"
    )
    assert added_stamps(page) == sorted(added_stamps(page)) and titles(page)[0].startswith("Starmer")


def choose_to_remove(page, label_part: str) -> None:
    page.locator("#qa-remove-choice input").click()
    page.get_by_role("option").filter(has_text=label_part).first.click()
    page.locator("#qa-remove").click()
    page.wait_for_selector("#qa-remove-confirm", state="visible")


def test_remove_asks_first_then_deletes_the_stored_upload(page, server, tmp_path: Path):
    uploads = server[1] / "uploads"
    (tmp_path / "pond.txt").write_text(POND_TXT, encoding="utf-8")
    upload_in_page(page, [tmp_path / "pond.txt"])
    assert (uploads / "pond.txt").exists()
    rows = page.locator("#qa-documents tbody tr").count()

    choose_to_remove(page, "Tarnwick")
    prompt = page.locator("#qa-remove-prompt").inner_text()
    assert prompt.startswith("Remove “The Tarnwick pond") and "Its uploaded file is deleted too." in prompt
    assert page.locator("#qa-documents tbody tr").count() == rows and (uploads / "pond.txt").exists()
    page.locator("#qa-remove-cancel").click()
    page.wait_for_selector("#qa-remove-confirm", state="hidden")
    assert "Nothing removed." in page.locator("#qa-notices").inner_text()

    choose_to_remove(page, "Tarnwick")
    page.locator("#qa-remove-yes").click()
    page.wait_for_selector("#qa-remove-confirm", state="hidden")
    assert "Removed “The Tarnwick pond" in page.locator("#qa-notices").inner_text()
    assert page.locator("#qa-documents tbody tr").count() == rows - 1
    assert not (uploads / "pond.txt").exists()

    # The seed article too is removed only after a confirmation, which says its file stays.
    choose_to_remove(page, "Starmer")
    assert "It is not an upload: its file stays on disk" in page.locator("#qa-remove-prompt").inner_text()
    page.locator("#qa-remove-cancel").click()
    page.wait_for_selector("#qa-remove-confirm", state="hidden")
    assert page.locator("#qa-documents tbody tr").count() == rows - 1
    assert titles(page)[-1].startswith("Starmer")


# --- exports ----------------------------------------------------------------------------------


def _inline_text(token) -> str:
    """What a reader sees in a markdown-it inline token (escapes resolved, emphasis marks dropped)."""
    return "".join(child.content for child in token.children if child.type in ("text", "code_inline"))


def download(page, button: str) -> tuple[str, str]:
    """Click a download button; returns (suggested file name, the file's text)."""
    with page.expect_download() as started:
        page.locator(button).click()
    done = started.value
    return done.suggested_filename, Path(done.path()).read_text(encoding="utf-8")


def test_the_conversation_downloads_as_markdown_and_json(page):
    from markdown_it import MarkdownIt

    for button in ("#qa-download-md", "#qa-download-json"):
        assert page.locator(button).is_disabled()  # an empty chat exports nothing
    questions = [BACKSTOP, "Who is Jonathan Powell?"]
    for question in questions:
        ask(page, question)
    ask(page, "\x01\x02")  # an error turn: left out of the exports
    name, exported = download(page, "#qa-download-json")
    answers = json.loads(exported)["answers"]
    assert name == "qa-conversation.json" and [a["question"] for a in answers] == questions
    seed = SEED_FILE.read_text(encoding="utf-8")
    quotes = [c["quote"] for a in answers for c in a["citations"]]
    assert quotes and all(seed[c["start"] : c["end"]] == c["quote"] for a in answers for c in a["citations"])
    assert answers[0]["text"].endswith("[1]") and answers[0]["short_answer"]["number"] == 1

    name, markdown = download(page, "#qa-download-md")
    assert name == "qa-conversation.md"
    tokens = MarkdownIt("commonmark").parse(markdown)
    headings = [_inline_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    assert headings == [f"{n}. {q}" for n, q in enumerate(questions, start=1)]
    parsed = [_inline_text(tokens[i + 2]) for i, t in enumerate(tokens) if t.type == "blockquote_open"]
    assert parsed == [" ".join(q.split()) for q in quotes]
    short = f"Short answer: {answers[0]['short_answer']['text']} [1]"  # bold in the file
    assert short in [_inline_text(t) for t in tokens if t.type == "inline"]

    page.locator("#qa-clear").click()
    page.wait_for_function("document.querySelector('#qa-download-md').disabled")
    assert page.locator("#qa-download-json").is_disabled()


# --- accessibility ----------------------------------------------------------------------------

AXE_JS = PROJECT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
# Wait for transitions to end before axe reads colours (a button fading in reads as low contrast).
# Settled: no finite animation running and no Gradio component in its dimmed "pending" state
# (an event still in flight), so axe measures the page a reader would see.
SETTLED_JS = """() => document.querySelectorAll('.pending').length === 0 && document.getAnimations().every(
    a => a.playState !== 'running' || a.effect.getComputedTiming().iterations === Infinity)"""
AXE_RUN_JS = """async () => (await axe.run(document)).violations.map(
    v => ({impact: v.impact, id: v.id, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
FOCUSED_JS = "(selector) => !!document.activeElement && document.activeElement.matches(selector)"


def axe_violations(page) -> dict[str, list[str]]:
    """axe-core's violations on the page as it is now: {impact: ["rule-id: first nodes", ...]}."""
    if not AXE_JS.exists():
        message = f"{AXE_JS} is missing: bash scripts/test.sh installs axe-core"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    page.wait_for_function(SETTLED_JS)
    if not page.evaluate("!!window.axe"):
        page.add_script_tag(path=str(AXE_JS))
    found: dict[str, list[str]] = {}
    for violation in page.evaluate(AXE_RUN_JS):
        found.setdefault(violation["impact"], []).append(f"{violation['id']}: {violation['nodes']}")
    return found


def test_axe_finds_nothing_serious_on_the_chat_an_open_card_and_the_documents_tab(page):
    states = {"empty chat (examples)": axe_violations(page)}
    ask(page, BACKSTOP)
    states["chat with an answer"] = axe_violations(page)
    last_answer(page).locator("a.qa-cite").first.click()
    page.wait_for_function(FOCUSED_JS, arg="#src-1-1.qa-open")
    states["open source card"] = axe_violations(page)
    page.locator("#qa-chat button[aria-label='Like']").first.click()
    page.wait_for_selector("[data-testid=toast-body]")
    states["feedback notice"] = axe_violations(page)
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_selector("#qa-documents table")
    states["documents tab"] = axe_violations(page)
    print(f"\naxe-core violations by impact: { {k: {i: len(v) for i, v in f.items()} for k, f in states.items()} }")
    for state, found in states.items():
        assert not found.get("critical") and not found.get("serious"), (state, found)


# Records, from before the page's first script, whether the header's status line ever carried
# Gradio's "pending" class (opacity .2: unreadable, and what failed axe's contrast rule in CI).
STATUS_DIM_WATCH_JS = """window.__statusDimmed = false;
new MutationObserver(() => {
  if (document.querySelector('#qa-status .pending')) window.__statusDimmed = true;
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});"""


def test_the_status_line_is_never_dimmed_while_the_page_refreshes_it_on_load(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.add_init_script(STATUS_DIM_WATCH_JS)
        open_chat(page, server[0])
        page.get_by_role("tab", name="Documents").click()
        page.wait_for_selector("#qa-documents table")  # drawn by the same load event as the status
        page.wait_for_function("document.querySelectorAll('.pending').length === 0")
        assert "passage" in page.locator("#qa-status").inner_text()
        assert page.evaluate("window.__statusDimmed") is False
    finally:
        context.close()


def tabs_until(page, selector: str, most: int = 12) -> int | None:
    """Press Tab until the focus is on `selector`; how many presses it took (None: not reached)."""
    for presses in range(1, most + 1):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED_JS, selector):
            return presses
    return None


def test_keyboard_alone_asks_reaches_a_citation_and_opens_and_closes_its_card(page):
    box = page.locator("#qa-question textarea")
    assert page.evaluate(FOCUSED_JS, "#qa-question textarea")  # the box has the focus on load
    page.keyboard.type(BACKSTOP)
    page.keyboard.press("Enter")
    announced = wait_announced(page, 1)
    # The live region says the whole answer once, without the [n] markers; the log stays quiet.
    live = page.locator("#qa-announcer")
    assert live.get_attribute("role") == "status" and live.get_attribute("aria-live") == "polite"
    assert "the US stance has not shifted" in announced and "[1]" not in announced and "1 source" in announced
    assert page.locator("#qa-chat [role=log]").get_attribute("aria-live") == "off"

    box.focus()
    presses = tabs_until(page, "#qa-chat a.qa-cite")
    print(f"\nTab presses from the question box to [1]: {presses}")
    assert presses is not None and presses <= 3
    link = last_answer(page).locator("a.qa-cite").first
    assert link.inner_text() == "[1]" and link.get_attribute("aria-label").startswith("Source 1: Starmer")
    page.keyboard.press("Enter")
    page.wait_for_function(FOCUSED_JS, arg="#src-1-1.qa-open")  # on the card, not the page body
    card = page.locator("#src-1-1")
    assert card.get_attribute("aria-label").startswith("Source 1 of answer 1: Starmer")
    assert card.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    page.keyboard.press("Escape")
    page.wait_for_function(FOCUSED_JS, arg="#qa-chat a.qa-cite")
    assert card.evaluate("e => getComputedStyle(e).outlineStyle") == "none"  # closed

    page.keyboard.press("Enter")  # open again, then close with its button
    page.wait_for_function(FOCUSED_JS, arg="#src-1-1.qa-open")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED_JS, "#src-1-1 .qa-back")
    page.keyboard.press("Enter")
    page.wait_for_function(FOCUSED_JS, arg="#qa-chat a.qa-cite")


RING_JS = "e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }"


def test_the_question_box_and_the_buttons_show_a_focus_ring(page):
    box = page.locator("#qa-question textarea")
    box.focus()
    focused = box.evaluate(RING_JS)
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED_JS, "#qa-ask")
    assert page.locator("#qa-ask").evaluate(RING_JS)[0] == "solid"  # Ask, reached by Tab
    unfocused = box.evaluate(RING_JS)
    assert focused != unfocused and focused[0] == "solid" and float(focused[1].removesuffix("px")) >= 2
    assert unfocused[0] == "none"


def test_no_gradio_api_footer_but_a_note_on_our_api(page):
    assert page.get_by_text("Use via API").count() == 0 and page.locator("footer .show-api").count() == 0
    note = page.locator("#qa-api")
    assert "POST /api/ask" in note.inner_text() and "/v1/chat/completions" in note.inner_text()
    models = page.request.get(page.url.rstrip("/") + "/" + note.locator("a").get_attribute("href"))
    assert models.status == 200 and models.json()["data"][0]["id"]


# Pairs of the page's parts that overlap on screen (1 px of slack), and how wide the page is.
OVERLAPS_JS = """(selectors) => {
    const boxes = selectors.map(s => [s, document.querySelector(s)])
        .filter(([, e]) => e && e.offsetParent !== null).map(([s, e]) => [s, e.getBoundingClientRect()]);
    const overlaps = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i][1], boxes[j][1]];
        if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) {
            overlaps.push([boxes[i][0], boxes[j][0]]);
        }
    }
    return {shown: boxes.length, overlaps, width: document.documentElement.scrollWidth, viewport: innerWidth};
}"""
PARTS = [
    "#qa-top .qa-header", "#qa-status", "#qa-chat", "#qa-question", "#qa-ask", "#qa-count", "#qa-clear",
    "#qa-download-md", "#qa-download-json", "#qa-legend", "#qa-sources", "#qa-api",
]
# The confidence tag and the [n] before it: on one line (their middles at the same height)?
TAG_LINE_JS = """() => {
    const tag = [...document.querySelectorAll('#qa-chat .qa-confidence')].pop();
    const link = tag.closest('.qa-tail').querySelector('a.qa-cite');
    const [a, b] = [link.getBoundingClientRect(), tag.getBoundingClientRect()];
    return Math.abs((a.top + a.bottom) / 2 - (b.top + b.bottom) / 2);
}"""
# Each column heading of the documents table scrolled into view: is it wholly inside the
# table's box and the window?
COLUMNS_JS = """() => {
    const wrap = document.querySelector('#qa-documents .qa-docs-wrap');
    const reached = [];
    for (const th of wrap.querySelectorAll('th')) {
        th.scrollIntoView({block: 'nearest', inline: 'nearest'});
        const [r, w] = [th.getBoundingClientRect(), wrap.getBoundingClientRect()];
        const inside = r.left >= w.left - 1 && r.right <= w.right + 1 && r.left >= -1 && r.right <= innerWidth + 1;
        reached.push([th.innerText.trim(), inside]);
    }
    return {box: wrap.clientWidth, table: wrap.scrollWidth, overflow: getComputedStyle(wrap).overflowX,
            reached, page: document.documentElement.scrollWidth};
}"""


@pytest.mark.parametrize(
    "size", [(390, 844, 1), (700, 450, 2)], ids=["phone-390x844", "zoom-200-percent"]
)
def test_the_page_reads_at_phone_width_and_at_200_percent_without_overlap(browser, server, size):
    width, height, scale = size  # 200 % zoom of a 1400 x 900 window: a 700 x 450 CSS viewport, 2x pixels
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        open_chat(page, server[0])
        header = page.locator("#qa-top").bounding_box()["height"]
        ask(page, BACKSTOP)
        page.wait_for_function(SETTLED_JS)
        layout = page.evaluate(OVERLAPS_JS, PARTS)
        tag_gap = page.evaluate(TAG_LINE_JS)
        page.get_by_role("tab", name="Documents").click()
        page.wait_for_selector("#qa-documents table")
        columns = page.evaluate(COLUMNS_JS)
        print(f"\n{width}x{height}: header {header:.0f} px; documents table {columns['table']} px "
              f"in a {columns['box']} px box (overflow-x {columns['overflow']}); page {columns['page']} px wide")
    finally:
        context.close()
    assert header <= 80, header  # title and counts, not a tall stack
    assert layout["overlaps"] == [] and layout["shown"] == len(PARTS), layout
    assert layout["width"] <= layout["viewport"]  # nothing wider than the window
    assert tag_gap <= 4, tag_gap  # "likely"/"uncertain" stays on the line of its [n]
    assert [name for name, _ in columns["reached"]] == ["Title", "Source", "Paragraphs", "Passages", "Added", "Id"]
    assert all(inside for _, inside in columns["reached"]), columns
    assert columns["page"] <= width and (columns["table"] <= columns["box"] or columns["overflow"] == "auto")


@pytest.fixture(scope="module")
def read_only_url(seed_index):
    """`build_app` over a read-only service, served by Gradio in this process, on a free port."""
    from qa.serving import rendering
    from qa.serving.service import QaService
    from qa.serving.web import build_app, theme

    demo = build_app(QaService(seed_index, read_only=True), ())
    demo.queue()
    port = _free_port()
    demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False,
        show_error=False, theme=theme(), css=rendering.CSS,
    )
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_read_only_page_answers_but_has_no_document_controls(browser, read_only_url):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        open_chat(page, read_only_url)
        ask(page, BACKSTOP)
        assert "the US stance has not shifted" in last_answer(page).inner_text()
        page.get_by_role("tab", name="Documents").click()
        page.wait_for_selector("#qa-documents table")
        assert page.locator("#qa-documents tbody tr").count() == 1
        assert "This server is read-only" in page.locator("#qa-read-only").inner_text()
        for control in ("#qa-upload", "#qa-remove-choice", "#qa-remove", "#qa-rebuild", "#qa-remove-confirm"):
            assert page.locator(control).count() == 0, control
    finally:
        context.close()


def test_auth_needs_both_variables(monkeypatch, capsys):
    from qa.cli import main
    from qa.serving.listening import auth_from_env

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
    from qa.index.coordinator import Index
    from qa.serving.documents_events import DocumentsTab
    from qa.serving.service import QaService

    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "extra.txt").write_text(GLACIER_TXT, encoding="utf-8")
    return DocumentsTab(QaService(Index.build([corpus], tmp_path / "index")))


def test_respond_streams_growing_answers_and_ignores_empty_questions(seed_index):
    import gradio as gr

    from qa.serving.service import QaService
    from qa.serving.web import ChatApp

    app = ChatApp(QaService(seed_index))

    assert [type(v) for v in next(app.respond("  ", []))] == [type(gr.skip())] * 5
    # A question whose answer quotes two sentences (the reader's span, and the sentence before
    # it that "This urgency …" points back to: qa.answering.pointing).
    steps = list(app.respond("Why might Putin have given an equivocal response to the ceasefire?", []))
    first_box, first_chat, first_panel, _, _ = steps[0]
    assert first_box == "" and first_chat[-1]["content"] == '<span class="qa-thinking">…</span>'
    assert "equivocal" in first_chat[-2]["content"]  # the question shows at once
    counts = [chat[-1]["content"].count("qa-cite") for _, chat, _, _, _ in steps[1:]]
    assert counts == sorted(counts) and counts[-1] >= 2 and len(steps) == counts[-1] + 1
    _, _, panel, turns, _ = steps[-1]
    assert 'data-turns="1"' in panel and turns[0]["citations"] and turns[0]["id"]
    powell = list(app.respond("Who is Jonathan Powell?", []))[-1][3]
    follow = list(app.respond("Who is he?", powell))[-1]
    assert "Jonathan Powell" in follow[1][-1]["content"] and len(follow[3]) == 2
    assert "documents don" in list(app.respond("Who is he?", []))[-1][1][-1]["content"]


def test_remove_and_rebuild_from_the_documents_tab(app):
    doc_id = next(e.doc_id for e in app.service.documents() if e.path.endswith("extra.txt"))
    notices, table, _, status = app.on_remove(doc_id)
    assert "Removed “The Vatnajökull research hut" in notices and "extra.txt" not in table
    assert "1 document · 7 passages" in re.sub(r"<[^>]+>", "", status)
    assert "Choose a document" in app.on_remove(None)[0]
    assert "not in the index" in app.on_remove(doc_id)[0]
    notices, table, _, _ = app.on_rebuild()
    assert "Rebuilt: 0 added, 0 updated, 1 unchanged, 0 removed." in notices  # removed stays removed


def test_respond_refuses_an_overlong_question_whole_and_answers_a_followup_to_a_long_one(seed_index):
    import gradio as gr

    from qa.serving.service import QaService
    from qa.serving.web import ChatApp

    app = ChatApp(QaService(seed_index))
    (step,) = list(app.respond("word " * 1000, []))  # 4,999 characters once stripped
    assert [type(v) for v in step[:4]] == [type(gr.skip())] * 4  # box kept, chat unchanged
    assert "Not asked: the question is 4,999 characters long; the limit is 2,000." in step[4]
    turns = list(app.respond(LONG_QUESTION, []))[-1][3]
    steps = list(app.respond("When will military leaders meet?", turns))
    box, chat, _, turns, _ = steps[-1]
    assert steps[0][0] == "" and len(turns) == 2 and not turns[1]["error"]
    assert isinstance(box, type(gr.skip()))  # cleared once, then left to the next question typed
    assert "military leaders scheduled to meet" in chat[-1]["content"]
    error = list(app.respond("\x01", []))[-1][3][0]  # refused by the library: shown as an error
    assert error["error"] and "Not answered:" in error["html"] and "role=\"alert\"" in error["html"]


def test_remove_is_two_steps_and_names_what_it_removes(app):
    import gradio as gr

    doc_id = next(e.doc_id for e in app.service.documents() if e.path.endswith("extra.txt"))
    notices, row, prompt, pending = app.on_remove_request(doc_id)
    assert notices == "" and row.visible is True and pending == doc_id
    assert "Remove <b>“The Vatnajökull research hut" in prompt and "It is not an upload" in prompt
    assert doc_id in {e.doc_id for e in app.service.documents()}  # nothing removed yet
    assert app.on_remove_cancelled()[1].visible is False
    assert "Choose a document" in app.on_remove_request(None)[0]
    *view, row, pending = app.on_remove_confirmed(doc_id)
    assert "Removed “The Vatnajökull" in view[0] and row.visible is False and pending is None
    assert doc_id not in {e.doc_id for e in app.service.documents()}
    assert isinstance(row, gr.Column)


def test_read_only_app_refuses_every_change(app, tmp_path: Path):
    from qa.serving.documents_events import READ_ONLY, DocumentsTab
    from qa.serving.service import QaService

    before = [e.doc_id for e in app.service.documents()]
    reader = DocumentsTab(QaService(app.service.index, read_only=True))
    upload = tmp_path / "new.txt"
    upload.write_text(GLACIER_TXT.replace("forty-two", "nine"), encoding="utf-8")
    assert READ_ONLY in reader.on_upload([str(upload)])[0]
    assert READ_ONLY in reader.on_remove(before[0])[0] and READ_ONLY in reader.on_remove_request(before[0])[0]
    assert READ_ONLY in reader.on_rebuild()[0]
    assert [e.doc_id for e in app.service.documents()] == before
    assert reader.on_load()[0].startswith('<div class="qa-docs-wrap"') and len(reader.on_load()) == 2


def test_exports_hold_the_answers_in_order_and_leave_errors_out(seed_index, tmp_path: Path):
    from qa.serving.service import QaService
    from qa.serving.web import ChatApp, export_files

    app = ChatApp(QaService(seed_index))
    assert export_files([], tmp_path) is None
    live, markdown_button, json_button = app.after_turn([])
    assert live == "" and markdown_button.interactive is False and json_button.interactive is False
    turns = list(app.respond(BACKSTOP, []))[-1][3]
    turns = list(app.respond("\x01", turns))[-1][3]  # an error turn
    turns = list(app.respond("Who is Jonathan Powell?", turns))[-1][3]
    assert [t["error"] for t in turns] == [False, True, False]
    markdown, exported = export_files(turns, tmp_path)
    assert (markdown.name, exported.name) == ("qa-conversation.md", "qa-conversation.json")
    answers = json.loads(exported.read_text(encoding="utf-8"))["answers"]
    assert [a["question"] for a in answers] == [BACKSTOP, "Who is Jonathan Powell?"]
    assert "## 1. What is the US backstop position?" in markdown.read_text(encoding="utf-8")
    assert export_files(turns, tmp_path) == (markdown, exported)  # same conversation, same files
    live, markdown_button, json_button = app.after_turn(turns)
    assert "Answer 3: " in live and "Jonathan Powell" in live and "[1]" not in live
    assert markdown_button.interactive and json_button.interactive
    assert "Answer 2: not answered: question is empty" in app.after_turn(turns[:2])[0]


def test_respond_answers_from_the_documents_picked_in_search_in(app):
    from qa.serving.web import ChatApp

    chat = ChatApp(app.service)
    hut = next(e.doc_id for e in app.service.documents() if e.path.endswith("extra.txt"))
    seed = next(e.doc_id for e in app.service.documents() if e.doc_id != hut)
    assert {value for _, value in chat.search_in_choices().choices} == {hut, seed}
    sledges = "How many sledges does the research hut store?"
    (turn,) = list(chat.respond(sledges, [], [hut]))[-1][3]
    assert not turn["abstained"] and {c["doc_id"] for c in turn["citations"]} == {hut}
    (turn,) = list(chat.respond(sledges, [], [seed]))[-1][3]
    assert turn["abstained"] and turn["citations"] == []
    (turn,) = list(chat.respond(sledges, [], []))[-1][3]  # nothing picked: every document
    assert {c["doc_id"] for c in turn["citations"]} == {hut}
