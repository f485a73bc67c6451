"""The OpenAI-compatible endpoint (qa/serving/openai_api.py) through the real `openai` client
against a real server (uvicorn in a thread, `servers.running_server`), on the seed index."""

from __future__ import annotations

import openai
import pytest

from conftest import SEED_FILE
from qa.index.coordinator import Index
from qa.serving.markdown import answer_markdown, escape_markdown
from servers import Running, running_server, server  # noqa: F401 - the real-server fixtures

BACKSTOP = "What is the US backstop position?"
API_KEY = "sk-local-test-key"


@pytest.fixture(scope="module")
def client(server: Running) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused", max_retries=0)


def _model(client: openai.OpenAI) -> str:
    (model,) = client.models.list().data
    return model.id


def _ask(client: openai.OpenAI, *messages: dict[str, str], **options):
    return client.chat.completions.create(model=_model(client), messages=list(messages), **options)


def test_models_names_the_served_index(client: openai.OpenAI, seed_index: Index):
    assert _model(client) == f"qa-{seed_index.path.name}"


def test_the_answer_keeps_its_markers_sources_and_exact_citations(client: openai.OpenAI, seed_index: Index):
    completion = _ask(client, {"role": "system", "content": "Ignored."}, {"role": "user", "content": BACKSTOP})
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and completion.usage is None
    content = choice.message.content
    assert content == answer_markdown(seed_index.answer(BACKSTOP))
    assert "[1]" in content.split("\n")[0] and "\nSources:\n- [1] " in content
    citations = choice.message.model_extra["citations"]
    seed = SEED_FILE.read_text(encoding="utf-8")
    for citation in citations:
        assert seed[citation["start"] : citation["end"]] == citation["quote"]
    short = choice.message.model_extra["short_answer"]
    assert short is None or seed[short["start"] : short["end"]] == short["text"]


def test_streamed_deltas_join_to_the_whole_answer(client: openai.OpenAI):
    whole = _ask(client, {"role": "user", "content": BACKSTOP}).choices[0].message
    chunks = list(_ask(client, {"role": "user", "content": BACKSTOP}, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole.content
    assert len([c for c in chunks if c.choices[0].delta.content]) >= 2  # sentence by sentence, then sources
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop" and last.delta.model_extra["citations"] == whole.model_extra["citations"]


def test_a_followup_uses_the_message_history(client: openai.OpenAI):
    first = _ask(client, {"role": "user", "content": "Who is Jonathan Powell?"}).choices[0].message.content
    follow = _ask(
        client,
        {"role": "user", "content": "Who is Jonathan Powell?"},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "Who is he?"},
    )
    assert "Jonathan Powell" in follow.choices[0].message.content
    alone = _ask(client, {"role": "user", "content": "Who is he?"}).choices[0].message.content
    assert alone == "The documents don't say."


def test_off_topic_is_the_honest_abstention(client: openai.OpenAI):
    message = _ask(client, {"role": "user", "content": "What is the boiling point of tungsten?"}).choices[0].message
    assert message.content == "The documents don't say." and message.model_extra["citations"] == []


@pytest.mark.parametrize(
    "messages, param",
    [
        ([], "messages"),
        ([{"role": "assistant", "content": "Hello."}], "messages"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "messages"),
        ([{"role": "user", "content": "word " * 1000}], "messages"),
        ([{"role": "user", "content": "   "}], "messages"),
    ],
)
def test_bad_requests_are_a_400_with_openais_error_body(client: openai.OpenAI, messages, param):
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=_model(client), messages=messages)
    assert raised.value.status_code == 400 and raised.value.body["param"] == param
    assert raised.value.body["type"] == "invalid_request_error" and raised.value.body["message"]


def test_an_unknown_model_is_a_404(client: openai.OpenAI):
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": BACKSTOP}])
    assert raised.value.body["code"] == "model_not_found" and "gpt-4o" in raised.value.body["message"]


def test_the_api_key_is_required_when_set(running_server, seed_index: Index, monkeypatch):
    monkeypatch.setenv("QA_API_KEY", API_KEY)
    server = running_server(seed_index)
    base = f"http://127.0.0.1:{server.port}/v1"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).models.list()
    keyed = openai.OpenAI(base_url=base, api_key=API_KEY, max_retries=0)
    assert [m.id for m in keyed.models.list().data] == [f"qa-{seed_index.path.name}"]


def test_document_words_cannot_make_markdown_structure():
    hostile = "# Heading <script>alert(1)</script> [link](http://x) ![img](y) *bold* `code` | a | 1. list"
    escaped = escape_markdown(hostile)
    for structure in ("<script>", "[link](", "![img]", "*bold*", "`code`", "| a |"):
        assert structure not in escaped
    assert escaped.startswith("\\#") and "\n" not in escape_markdown("line one\n- line two")
