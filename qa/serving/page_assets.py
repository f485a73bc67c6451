"""The web chat's own CSS and browser JavaScript (`qa.serving.web` installs both).

`PAGE_JS` runs once per page load and does what Gradio's markup does not:

- Enter on (or a click of) a `[n]` link moves the focus onto its source card, which shows as
  open; Escape inside the card, or its "Back to the answer" button, closes it and puts the
  focus back on the `[n]` it came from;
- a polite `role="status"` live region (`#qa-announcer`) announces each finished answer once,
  with the text `qa.serving.web` puts in the hidden `#qa-live`; the chat log itself is set to `aria-live="off"`, so the sentences streaming in and the "…" are
  not read out one by one;
- accessible names and roles where Gradio's markup lacks them or contradicts itself: each
  `[n]` link is named by its title ("Source 1: <document title>"), the example questions (a `role="list"` holding buttons), the upload area (an `aria-label` that
  says something other than its visible text).

Nothing here touches text from documents: the answers and cards are escaped HTML from
`qa.serving.rendering`, and this code only moves focus and sets attributes.
"""

from __future__ import annotations

PAGE_JS = """
() => {
    if (window.__qaPageInstalled) return;
    window.__qaPageInstalled = true;
    let opener = null;  // the [n] link the open card was reached from
    const cardOf = (link) => document.getElementById((link.getAttribute("href") || "").slice(1));
    const open = (card) => {
        for (const other of document.querySelectorAll(".qa-source.qa-open")) other.classList.remove("qa-open");
        card.classList.add("qa-open");
        card.focus();
    };
    const close = (card) => {
        card.classList.remove("qa-open");
        card.classList.add("qa-closed");  // no :target highlight until it is opened again
        const href = "#" + card.id;
        const back = opener && opener.isConnected && opener.getAttribute("href") === href
            ? opener : document.querySelector(`#qa-chat a.qa-cite[href="${href}"]`);
        if (back) back.focus();
    };
    document.addEventListener("click", (event) => {
        const target = event.target instanceof Element ? event.target : null;
        const link = target && target.closest("a.qa-cite");
        if (link) {
            const card = cardOf(link);
            if (!card) return;
            opener = link;
            card.classList.remove("qa-closed");
            open(card);  // the link's own jump to #src-… still happens (and sets :target)
            return;
        }
        const back = target && target.closest(".qa-source .qa-back");
        if (back) close(back.closest(".qa-source"));
    });
    document.addEventListener("keydown", (event) => {
        if (event.key !== "Escape" || !(event.target instanceof Element)) return;
        const card = event.target.closest(".qa-source.qa-open");
        if (!card) return;
        event.preventDefault();
        close(card);
    });
    const name = (element, label) => {
        if (element.getAttribute("aria-label") !== label) element.setAttribute("aria-label", label);
    };
    const mend = () => {
        let announcer = document.getElementById("qa-announcer");
        if (!announcer) {
            announcer = document.createElement("div");
            announcer.id = "qa-announcer";
            announcer.className = "qa-sr-only";
            announcer.setAttribute("role", "status");
            announcer.setAttribute("aria-live", "polite");
            announcer.setAttribute("aria-atomic", "true");
            document.body.appendChild(announcer);
        }
        // #qa-live (Gradio's block, with its progress text) is the source; the announcer, a
        // region that exists before anything is said, reads out the latest answer once.
        const source = document.getElementById("qa-live");
        if (source && source.getAttribute("aria-hidden") !== "true") source.setAttribute("aria-hidden", "true");
        const said = source ? source.querySelector(".qa-live-text") : null;
        const text = said ? said.textContent : "";
        if (announcer.textContent !== text) announcer.textContent = text;
        for (const log of document.querySelectorAll('#qa-chat [role="log"]:not([aria-live="off"])')) {
            log.setAttribute("aria-live", "off");  // #qa-live announces each answer once, complete
        }
        for (const link of document.querySelectorAll("#qa-chat a.qa-cite[title]")) name(link, link.title);
        for (const list of document.querySelectorAll('#qa-chat .examples[role="list"]')) {
            list.setAttribute("role", "group");
            name(list, "Example questions");
        }
        for (const header of document.querySelectorAll('.toast-header[role="button"]')) {
            header.removeAttribute("role");  // a button holding the Close button; Close stays
            header.removeAttribute("tabindex");
        }
        for (const drop of document.querySelectorAll("#qa-upload .upload-container")) {
            const shown = (drop.innerText || "").replace(/\\s+/g, " ").trim();
            const label = document.querySelector("#qa-upload [data-testid=block-label]");
            if (shown) name(drop, shown + (label ? ": " + label.innerText.trim() : ""));
        }
    };
    mend();
    new MutationObserver(mend).observe(document.body, {childList: true, subtree: true});
}
"""

CSS = """
.qa-answer p, .qa-question { margin: 0; }
.qa-header h1 { font-size: 1em; font-weight: normal; margin: 0; }
/* Visually hidden, still read by screen readers. */
.qa-sr-only, #qa-live { position: absolute !important; width: 1px !important; height: 1px !important;
  padding: 0 !important; margin: -1px !important; overflow: hidden !important; clip-path: inset(50%) !important;
  white-space: nowrap !important; border: 0 !important; min-width: 0 !important; }
/* The question row comes first in the page (so Tab goes box -> Ask -> the answers' [n] links)
   and shows under the chat; the chat's tools (clear, downloads) and the legend follow. */
#qa-chat-column > #qa-chat { order: 1; }
/* The chatbot's own trash icon: "Clear chat" below does the same (and is wired the same). */
#qa-chat button[aria-label="Clear"] { display: none; }
#qa-chat-column > #qa-ask-row { order: 2; }
#qa-chat-column > #qa-count { order: 3; }
#qa-chat-column > #qa-chat-tools { order: 4; }
#qa-chat-column > #qa-legend { order: 5; }
/* Keyboard focus is always visible: the question box, buttons, links, summaries, cards. */
#qa-question textarea:focus, #qa-question textarea:focus-visible {
  outline: 3px solid var(--color-accent, #4f46e5) !important; outline-offset: -3px; }
.gradio-container button:focus-visible, .gradio-container a:focus-visible,
.gradio-container summary:focus-visible, .gradio-container [tabindex]:focus-visible,
.gradio-container input:focus-visible {
  outline: 2px solid var(--color-accent, #4f46e5); outline-offset: 2px; }
/* [n] markers are links: link colour, underline on hover, a visible ring on keyboard focus.
   Scoped under #qa-chat to win over the chatbot's own message styles. */
#qa-chat a.qa-cite, a.qa-cite { color: var(--link-text-color, #2563eb); text-decoration: none;
  font-weight: 600; white-space: nowrap; border-radius: 3px; cursor: pointer; }
#qa-chat a.qa-cite:hover, a.qa-cite:hover { text-decoration: underline;
  color: var(--link-text-color-hover, #1d4ed8); }
#qa-chat a.qa-cite:focus-visible, a.qa-cite:focus-visible { outline: 2px solid var(--color-accent, #2563eb);
  outline-offset: 1px; text-decoration: underline; }
/* Errors are not answers: no thumbs up/down under them (the server ignores them too). */
#qa-chat .message-row:has(.qa-error) + .message-buttons,
#qa-chat .message-row:has(.qa-error) .message-buttons { display: none !important; }
.qa-notice.qa-error { background: var(--error-background-fill, #fef2f2);
  border: 1px solid var(--error-border-color, #fca5a5); border-radius: 6px; padding: 0.4em 0.6em; }
.qa-count { font-size: 0.85em; opacity: 0.8; text-align: right; margin-top: -0.3em; }
.qa-count.qa-over { color: var(--error-text-color, #b91c1c); opacity: 1; font-weight: 600; }
.qa-legend { font-size: 0.8em; opacity: 0.85; margin: 0; }
.qa-api-note { font-size: 0.85em; text-align: center; margin: 0.5em 0 0; }
.qa-confirm { padding: 0.5em 0.7em; border: 1px solid var(--error-border-color, #fca5a5); border-radius: 6px;
  background: var(--error-background-fill, #fef2f2); }
.qa-docs th { white-space: nowrap; }
.qa-sort { all: unset; cursor: pointer; font-weight: 600; border-radius: 3px; }
.qa-sort:hover { text-decoration: underline; }
.qa-sort:focus-visible { outline: 2px solid var(--color-accent, #2563eb); outline-offset: 2px; }
.qa-docs th[aria-sort="ascending"] .qa-sort-mark::after { content: " \\25B2"; }
.qa-docs th[aria-sort="descending"] .qa-sort-mark::after { content: " \\25BC"; }
.qa-abstained { font-style: italic; }
/* The last [n] and the confidence tag wrap as one: the tag never sits alone on a line. */
.qa-tail { white-space: nowrap; }
.qa-confidence { font-size: 0.75em; opacity: 0.8; margin-left: 0.3em; padding: 0 0.35em;
  border: 1px solid var(--border-color-primary); border-radius: 999px; white-space: nowrap; cursor: help; }
.qa-uncertain { font-style: italic; }
.qa-panel { max-height: 640px; overflow-y: auto; }
.qa-panel-title { font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.05em; opacity: 0.8; }
.qa-sources { margin-bottom: 1.2em; }
.qa-sources-q { font-weight: 600; margin: 0.2em 0 0.5em; opacity: 0.8; }
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em 0.8em;
  margin-bottom: 0.6em; scroll-margin-top: 1em; }
.qa-source:target:not(.qa-closed), .qa-source.qa-open { outline: 2px solid var(--color-accent, #4f46e5); }
.qa-source.qa-open:focus { outline-width: 3px; }
.qa-source-head { font-weight: 600; }
.qa-back { display: none; margin-left: 0.5em; font-weight: normal; font-size: 0.85em; padding: 0 0.4em;
  border: 1px solid var(--border-color-primary); border-radius: 4px; background: none; cursor: pointer; }
.qa-source.qa-open .qa-back { display: inline-block; }
.qa-meta { font-size: 0.85em; opacity: 0.85; margin: 0.2em 0 0.4em; overflow-wrap: anywhere; }
.qa-original { white-space: nowrap; }
.qa-passage { margin: 0; padding-left: 0.7em; border-left: 3px solid var(--border-color-primary);
  white-space: normal; overflow-wrap: anywhere; }
.qa-passage mark { background: #fde68a; color: inherit; padding: 0 1px; }
.qa-short { font-weight: 700; }
.qa-also summary { cursor: pointer; margin: 0.3em 0 0.6em; }
.qa-retrieved { opacity: 0.9; }
/* The documents table scrolls sideways inside its own box on a narrow screen, so every column
   can be reached (the box is focusable: arrow keys scroll it). */
.qa-docs-wrap { max-width: 100%; overflow-x: auto; }
.qa-docs { width: 100%; border-collapse: collapse; }
.qa-docs th, .qa-docs td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--border-color-primary); }
.qa-docs td.qa-n { text-align: right; }
.qa-status { font-size: 0.9em; opacity: 0.85; }
.qa-status-part { white-space: nowrap; }
/* Narrow screens (a phone, or 200 % zoom): title and status each take a full line, and on a
   phone the status keeps only its counts. */
@media (max-width: 768px) {
  #qa-top { flex-wrap: wrap; gap: 0.2em; }
  #qa-top > * { flex: 1 1 100% !important; }
  #qa-top .html-container { padding-top: 2px; padding-bottom: 2px; }
}
@media (max-width: 480px) {
  .qa-status-extra { display: none; }
  .qa-header, .qa-status { font-size: 0.85em; }
}
.qa-notices { list-style: none; padding: 0; margin: 0; }
.qa-fail { color: var(--error-text-color, #b91c1c); }
.qa-notice.qa-error { color: var(--error-text-color, #b91c1c); }
.qa-empty, .qa-none { opacity: 0.8; font-style: italic; }
"""
