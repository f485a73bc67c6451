"""qa/answering/compose.py: cited extractive answers, abstention and follow-ups on the seed article.

These assert what an answer does, whatever the models rank first: it quotes its documents
exactly, quotes what the question is about, abstains off-topic and uses the conversation.
Which paragraph answers each seed question is a measure of the models, reported by
benchmarks/answers.py (--reader for the reader), not asserted here.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.answering.compose import ABSTAIN_TEXT, Answer, answer_json, followup_queries, refers_back
from qa.answering.config import HAND_TUNED, HAND_TUNED_ABSTAIN, LEARNED, AnswerConfig
from qa.cli import main
from qa.loading.documents import Document
from qa.models.embedding import Embedder
from qa.models.precision import FP32, INT8
from qa.index.coordinator import Index
from qa.serving.rendering import LIKELY_CONFIDENCE, answer_html
from qa.answering.sentence_scoring import load_scorer

from conftest import OFF_TOPIC_QUESTIONS, SEED_QUESTIONS, SEEDS

# On the seed article's topic, not answered by it (issue 12: "documents on the right topic that
# lack the answer").
UNANSWERABLE_ON_SEED = ["When did Trump meet Putin?"]


def _check_citations(index: Index, answer: Answer) -> None:
    """Every citation quotes its document exactly and names the paragraphs its sentences come
    from (`paragraph` the first); markers are numbered by first use."""
    for c in answer.citations:
        document = index.document(c.doc_id)
        text = document.text
        assert text[c.start : c.end] == c.quote
        for s, e in c.spans:
            assert c.start <= s < e <= c.end
            assert f"{text[s:e]} [{c.number}]" in answer.text
        quoted = {n for n, (ps, pe) in enumerate(document.paragraphs, 1) for s, _ in c.spans if ps <= s < pe}
        assert c.paragraphs == tuple(sorted(quoted)) and c.paragraph == c.paragraphs[0]
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    first_use = list(dict.fromkeys(markers))
    assert first_use == list(range(1, len(first_use) + 1))
    assert [c.number for c in answer.citations] == first_use


def _quotes(answer: Answer, term: str) -> bool:
    """Whether one of the answer's quotes holds `term` (any case)."""
    return any(term.lower() in c.quote.lower() for c in answer.citations)


def test_the_backstop_answer_quotes_the_backstop_with_its_source(seed_index: Index):
    answer = seed_index.answer("What is the US backstop position?")
    assert not answer.abstained
    assert _quotes(answer, "backstop") and answer.citations[0].source == "www.bbc.com"
    assert answer.text.startswith(answer.sentences[0].text)
    _check_citations(seed_index, answer)


@pytest.mark.parametrize("question, term", SEED_QUESTIONS)
def test_on_topic_questions_are_answered_with_exact_citations(seed_index: Index, question: str, term: str):
    answer = seed_index.answer(question)
    assert not answer.abstained and answer.citations
    _check_citations(seed_index, answer)
    assert _quotes(answer, term)  # what the question is about, not only something near it
    assert len(" ".join(s.text for s in answer.sentences)) <= AnswerConfig().max_chars
    assert 1 <= len(answer.sentences) <= 3


@pytest.mark.parametrize("question", OFF_TOPIC_QUESTIONS)
def test_off_topic_questions_abstain(seed_index: Index, question: str):
    answer = seed_index.answer(question)
    assert answer.abstained and answer.text == ABSTAIN_TEXT and answer.citations == []
    assert answer.passages  # what was retrieved is still reported


# A follow-up that leans on the question before it, and a term of that earlier question (not of
# the follow-up) which the answer quotes only when it reads the conversation.
FOLLOWUPS = [
    ("What is the US backstop position?", "Has he changed his mind?", "backstop"),
    ("When will military leaders meet in the UK?", "Who announced that?", "military leaders"),
    ("What did participants of the virtual summit agree to?", "When was it held?", "virtual summit"),
    ("Why did Ukrainian soldiers keep territory in Kursk?", "What does Putin want to do about it?", "Kursk"),
    ("What is the coalition of the willing?", "Has it grown?", "coalition"),
]


@pytest.mark.parametrize("previous, question, term", FOLLOWUPS)
def test_followups_use_the_conversation(seed_index: Index, previous: str, question: str, term: str):
    assert term.lower() not in question.lower()
    first = seed_index.answer(previous)
    answer = seed_index.answer(question, history=[(previous, first.text)])
    assert not answer.abstained and _quotes(answer, term)
    _check_citations(seed_index, answer)
    alone = seed_index.answer(question)
    assert alone.abstained or not _quotes(alone, term)


def test_a_pronoun_question_needs_its_history(seed_index: Index):
    alone = seed_index.answer("Has he changed his mind?")
    with_history = seed_index.answer("Has he changed his mind?", history=[("What is the US backstop position?", "")])
    assert not with_history.abstained and _quotes(with_history, "backstop")
    assert alone.abstained or alone.citations != with_history.citations


def test_followup_queries_prepend_the_previous_question():
    history = [("first?", "a"), ("What is the US backstop position?", "b")]
    assert followup_queries("Has he changed?", history, turns=1) == ["What is the US backstop position? Has he changed?"]
    assert followup_queries("Has he changed?", [], turns=1) == []


def test_answers_are_deterministic(seed_index: Index):
    assert seed_index.answer("Why does Kursk matter?") == seed_index.answer("Why does Kursk matter?")


def test_near_duplicate_sentences_are_not_repeated(seed_index: Index):
    answer = seed_index.answer("What did Sir Keir say about the coalition?")
    texts = [s.text for s in answer.sentences]
    assert len(texts) == len(set(texts))


@pytest.mark.parametrize(
    "question, history, error",
    [
        ("", None, ValueError),
        ("x" * 10_000, None, ValueError),
        (42, None, TypeError),
        ("Why?", "not a list", TypeError),
        ("Why?", [("only one part",)], TypeError),
        ("Why?", [(1, 2)], TypeError),
    ],
)
def test_bad_input_is_a_clear_error(seed_index: Index, question, history, error):
    with pytest.raises(error):
        seed_index.answer(question, history=history)


def test_cli_ask_prints_answer_and_sources(seed_index: Index, capsys):
    assert main(["ask", "What is the US backstop position?", "--index", str(seed_index.path)]) == 0
    out = capsys.readouterr().out
    first = seed_index.answer("What is the US backstop position?").citations[0]
    assert "[1]" in out and "Sources:" in out and f"paragraph {first.paragraph}" in out


def test_cli_ask_json_and_abstention_exit_zero(seed_index: Index, capsys):
    assert main(["ask", "Who won the 2022 World Cup?", "--json", "--index", str(seed_index.path)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["abstained"] is True and payload["citations"] == [] and payload["text"] == ABSTAIN_TEXT
    assert main(["ask", "What is the US backstop position?", "--json", "--index", str(seed_index.path)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["citations"][0]["quote"] in seed_index.document(payload["citations"][0]["doc_id"]).text


def _redundancy(embedder, answer) -> float:
    """Highest cosine between two sentences of the answer (0 for a one-sentence answer)."""
    if len(answer.sentences) < 2:
        return 0.0
    vectors = embedder.encode([s.text for s in answer.sentences])
    similarity = vectors @ vectors.T
    return float(similarity[~np.eye(len(vectors), dtype=bool)].max())


def test_mmr_makes_answers_less_redundant_without_changing_the_best_sentence(seed_index, embedder):
    # MMR shapes the composer without the reader (the reader quotes the sentences of its span).
    plain, diverse = AnswerConfig(reader=False), AnswerConfig(reader=False, mmr_lambda=0.3)
    changed = 0
    for question, _ in SEED_QUESTIONS:
        a, b = seed_index.answer(question, config=plain), seed_index.answer(question, config=diverse)
        if a.abstained:
            continue
        best = max(a.sentences, key=lambda s: s.score)
        assert (best.doc_id, best.start) in {(s.doc_id, s.start) for s in b.sentences}
        assert _redundancy(embedder, b) <= _redundancy(embedder, a) + 1e-6
        changed += [s.start for s in a.sentences] != [s.start for s in b.sentences]
    assert changed >= 1


def test_a_long_earlier_question_never_breaks_a_short_followup(seed_index: Index):
    long_question = "What is the US backstop position? " + "Please explain in detail. " * 75
    assert 1900 < len(long_question.strip()) <= 2000
    first = seed_index.answer(long_question)
    answer = seed_index.answer("Has he changed his mind?", history=[(long_question, first.text)])
    assert answer.question == "Has he changed his mind?"  # answered (or abstained), never an error
    (query,) = followup_queries("Has he changed his mind?", [(long_question, first.text)], 1)
    assert len(query) <= 2000 and query.startswith("What is the US backstop position?")
    assert query.endswith(" Has he changed his mind?")


@pytest.mark.parametrize("question", [*UNANSWERABLE_ON_SEED, "What is the boiling point of tungsten?"])
def test_a_question_that_stands_alone_is_not_answered_from_the_conversation(seed_index: Index, question: str):
    """Only a question that points back ("he", "that", "And what about …?") is searched with
    the earlier one: an unanswerable question asked after an answered one still abstains."""
    first = seed_index.answer("Who is Jonathan Powell?")
    assert not first.abstained and not refers_back(question)
    assert seed_index.answer(question, history=[("Who is Jonathan Powell?", first.text)]).abstained
    follow = seed_index.answer("Where was he on Friday?", history=[("Who is Jonathan Powell?", first.text)])
    assert refers_back("Where was he on Friday?") and _quotes(follow, "Powell")


def test_a_lone_surrogate_in_a_question_is_answered(seed_index: Index):
    answer = seed_index.answer("What is the US backstop position?\ud800")
    assert not answer.abstained and _quotes(answer, "backstop")
    _check_citations(seed_index, answer)


def test_a_first_sentence_longer_than_max_chars_is_cut_to_an_exact_prefix(seed_index: Index):
    config = AnswerConfig(max_chars=60)
    full = seed_index.answer("What is the US backstop position?")
    short = seed_index.answer("What is the US backstop position?", config=config)
    first = short.sentences[0]
    assert len(full.sentences[0].text) > 60  # the seed's best sentence is long enough to be cut
    assert len(first.text) <= 60 and full.sentences[0].text.startswith(first.text)
    assert short.text.startswith(first.text + "… [1]")
    citation = short.citations[0]
    assert citation.quote == seed_index.document(citation.doc_id).text[citation.start : citation.end]
    assert citation.end - citation.start == len(first.text) and not first.text.endswith(" ")


def test_a_long_earlier_question_does_not_drown_the_followup(seed_index: Index):
    """Only the earlier question's first sentence (at most 100 characters) joins the follow-up:
    with all of it, 'When will military leaders meet?' got the backstop answer again."""
    filler = " Please quote what the Prime Minister said about US military support for a European-led initiative."
    long_question = "What is the US backstop position?" + filler * 19
    assert 1900 < len(long_question) <= 2000
    first = seed_index.answer(long_question)
    history = [(long_question, first.text)]
    (query,) = followup_queries("When will military leaders meet?", history, 1)
    assert query == "What is the US backstop position? When will military leaders meet?"
    answer = seed_index.answer("When will military leaders meet?", history=history)
    assert "military leaders scheduled to meet" in answer.text
    (query,) = followup_queries("And Kursk?", [("Mr. Powell said what " + "about it " * 50 + "?", "")], 1)
    assert query.startswith("Mr. Powell said what about it") and len(query) <= 100 + len(" And Kursk?")


# --- learned scorer, confidence, only sentences that answer (issue 12) -------------------------
# The learned composer is opt-in (`AnswerConfig(scorer=LEARNED)`): on the seed it cites the
# expected paragraph less often than the hand-tuned one (benchmarks/README.md).
LEARNED_CONFIG = AnswerConfig(scorer=LEARNED)


def test_confidence_is_a_probability_that_abstention_follows(seed_index: Index):
    scorer = load_scorer()
    answer = seed_index.answer("What is the US backstop position?", config=LEARNED_CONFIG)
    assert not answer.abstained and scorer.abstain_below <= answer.confidence <= 1.0
    off_topic = seed_index.answer("Who won the 2022 World Cup?", config=LEARNED_CONFIG)
    assert off_topic.abstained and 0.0 <= off_topic.confidence < scorer.abstain_below


def test_confidence_in_cli_json_and_api_payload(seed_index: Index, capsys):
    answer = seed_index.answer("What is the US backstop position?")
    assert answer_json(answer)["confidence"] == round(answer.confidence, 4)
    assert main(["ask", "What is the US backstop position?", "--json", "--index", str(seed_index.path)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["confidence"] == round(answer.confidence, 4) and 0.0 < payload["confidence"] <= 1.0


def test_chat_shows_a_quiet_escaped_confidence_tag(seed_index: Index):
    answer = seed_index.answer("What is the US backstop position?")
    html = answer_html(answer, 1)
    word = "likely" if answer.confidence >= LIKELY_CONFIDENCE else "uncertain"
    assert f'<span class="qa-confidence qa-{word}" title="Estimated chance that this answer contains the answer: ' in html
    assert html.count("qa-confidence") == 1 and f">{word}</span>" in html
    assert "qa-confidence" not in answer_html(seed_index.answer("Who won the 2022 World Cup?"), 2)


@pytest.fixture(scope="module")
def float_seed_index(seed_index: Index, embedder, tmp_path_factory: pytest.TempPathFactory) -> Index:
    """The seed index with float document vectors, which the composer's confidence was fitted on
    (qa/answering/sentence_scorer.json): the shared one unless its documents are int8 (the
    default on a CPU), whose vectors shift every score that confidence is fed."""
    if embedder.precision != INT8:
        return seed_index
    fp32 = Embedder(embedder.spec, precision=FP32)
    return Index.build([SEEDS], tmp_path_factory.mktemp("seed-fp32") / "index", embedder=fp32)


@pytest.mark.parametrize("question", UNANSWERABLE_ON_SEED)
def test_an_unanswerable_question_on_the_seed_article_abstains(seed_index: Index, float_seed_index: Index, question: str):
    """On the article's topic, but the article does not say: the reader's no-answer score
    abstains (the default); without the reader, abstaining on relevance answers these with a
    sentence that does not answer, and the composer's calibrated confidence ranks them under
    most answered seed questions."""
    assert seed_index.answer(question).abstained
    assert not seed_index.answer(question, config=AnswerConfig(reader=False)).abstained
    # The composer's confidence (qa/answering/sentence_scorer.json, trained on SQuAD v1.1 train)
    # puts it under most answered seed questions but not all: its operating point, capped under the
    # weakest answered one, does not abstain on it; the reader does.
    learned = replace(LEARNED_CONFIG, reader=False, abstain_below=0.0)
    confidence = float_seed_index.answer(question, config=learned).confidence
    answered = [float_seed_index.answer(q, config=learned).confidence for q, _ in SEED_QUESTIONS]
    assert confidence < sorted(answered)[len(answered) // 2]


@pytest.mark.parametrize(
    "settings, message",
    [({"scorer": "clever"}, "scorer must be"), ({"abstain_on": "mood"}, "abstain_on must be"), ({"hops": 3}, "hops must be")],
)
def test_unknown_composer_settings_are_a_clear_error(settings: dict, message: str):
    with pytest.raises(ValueError, match=message):
        AnswerConfig(**settings)


def test_further_sentences_are_kept_only_when_likely_to_answer(seed_index: Index):
    keep = load_scorer().keep_probability
    for question, _ in SEED_QUESTIONS:
        answer = seed_index.answer(question, config=LEARNED_CONFIG)
        best = max(s.score for s in answer.sentences)
        assert all(s.score >= keep for s in answer.sentences if s.score != best)


def test_the_hand_tuned_composer_is_kept_for_comparison(seed_index: Index):
    answer = seed_index.answer("What is the US backstop position?", config=AnswerConfig(scorer=HAND_TUNED))
    assert not answer.abstained and _quotes(answer, "backstop")
    assert answer.relevance >= HAND_TUNED_ABSTAIN
    _check_citations(seed_index, answer)


def _titled(title: str, text: str) -> Document:
    doc_id = re.sub(r"\W+", "-", title.lower()).strip("-")
    return Document(doc_id, title, "test", f"/nowhere/{doc_id}.txt", text, ((0, len(text)),), doc_id)


HUMBERT = _titled(
    "Dick Humbert",
    'Richard Elmer "Dick" Humbert (December 31, 1918 – May 23, 2007) was a professional American '
    "football end in the National Football League. He played for the Philadelphia Eagles (1941, 1945–1949).",
)
EAGLES = _titled(
    "Philadelphia Eagles",
    "The Philadelphia Eagles are a professional American football franchise based in Philadelphia, "
    "Pennsylvania. The Eagles compete in the National Football League as a member of the NFC East division.",
)
DODGERS = _titled(
    "Brooklyn Dodgers (football)",
    "The Brooklyn Dodgers were a National Football League team based in Brooklyn, New York, from 1930 to 1944.",
)
STADIUM = _titled(
    "Stadium notes",
    "Lincoln Financial Field in South Philadelphia hosts the Philadelphia Eagles on Sundays in the autumn.",
)
# Unrelated documents, so that IDF weighs names as it does in a real collection.
FILLER = [
    _titled("Danube", "The Danube flows through ten countries before it reaches the Black Sea."),
    _titled("Rhine", "The Rhine carries barges from Basel to Rotterdam, past vineyards and castles."),
    _titled("Thames", "The Thames floods the tidal flats below London twice a day."),
    _titled("Loire", "The Loire is the longest river in France and passes many castles."),
]
BRIDGE_QUESTION = "From 1945-1949 Dick Humbert played for an NFL team based in what state?"


def test_a_second_hop_quotes_the_document_about_a_name_the_first_answer_introduced(tmp_path: Path, embedder):
    index = Index.from_documents([HUMBERT, EAGLES, DODGERS, *FILLER], tmp_path / "index", embedder=embedder)
    one_hop = index.answer(BRIDGE_QUESTION, config=AnswerConfig(hops=1))
    assert EAGLES.doc_id not in {c.doc_id for c in one_hop.citations}

    answer = index.answer(BRIDGE_QUESTION)
    cited = [c.doc_id for c in answer.citations]
    assert HUMBERT.doc_id in cited and EAGLES.doc_id in cited
    assert "based in Philadelphia, Pennsylvania" in answer.text
    assert "He played for the Philadelphia Eagles" in answer.text  # the bridge stays quoted
    assert EAGLES.doc_id in {p.doc_id for p in answer.passages}
    assert len(" ".join(s.text for s in answer.sentences)) <= AnswerConfig().max_chars
    _check_citations(index, answer)


LINDQVIST = _titled(
    "Maria Lindqvist",
    "Maria Lindqvist is a Swedish chemist who studies sea ice. She works at the Halvorsen Institute.",
)
HALVORSEN = _titled(
    "Halvorsen Institute",
    "The Halvorsen Institute is a research centre in Bergen. It was founded in 1962 by the shipping family Halvorsen.",
)
EMPLOYER_QUESTION = "In which year was Maria Lindqvist's employer founded?"


def test_when_the_first_read_finds_no_answer_the_hop_is_read_before_abstaining(tmp_path: Path, embedder):
    # Reading only the best candidate keeps the institute's own sentences out of the first
    # read, as in a large collection where the bridge's document is not among the first found.
    index = Index.from_documents([LINDQVIST, HALVORSEN, *FILLER], tmp_path / "index", embedder=embedder)
    narrow = AnswerConfig(read_sentences=1, widen_sentences=0)
    assert index.answer(EMPLOYER_QUESTION, config=replace(narrow, hops=1)).abstained

    answer = index.answer(EMPLOYER_QUESTION, config=narrow)
    assert not answer.abstained
    assert [c.doc_id for c in answer.citations] == [LINDQVIST.doc_id, HALVORSEN.doc_id]  # the bridge first
    assert answer.text.startswith("She works at the Halvorsen Institute. [1]")
    assert answer.short_answer is not None and answer.short_answer.text == "1962"
    assert answer.short_answer.number == 2 and HALVORSEN.doc_id in {p.doc_id for p in answer.passages}
    _check_citations(index, answer)


def test_an_answer_found_in_the_second_document_quotes_the_sentence_that_leads_to_it(tmp_path: Path, embedder):
    # Both documents are found at once here, and the reader's span is the institute's date:
    # without the bridge the answer would not say why that institute.
    index = Index.from_documents([LINDQVIST, HALVORSEN, *FILLER], tmp_path / "index", embedder=embedder)
    one_hop = index.answer(EMPLOYER_QUESTION, config=AnswerConfig(hops=1))
    assert [c.doc_id for c in one_hop.citations] == [HALVORSEN.doc_id]

    answer = index.answer(EMPLOYER_QUESTION)
    assert [c.doc_id for c in answer.citations] == [LINDQVIST.doc_id, HALVORSEN.doc_id]
    assert answer.text.startswith("She works at the Halvorsen Institute. [1]")
    assert answer.short_answer is not None and answer.short_answer.text == "1962" and answer.short_answer.number == 2
    _check_citations(index, answer)


def test_a_title_that_is_a_common_word_leads_to_no_bridge(tmp_path: Path, embedder):
    notes = _titled("notes", "The marine lab moved from Oslo to Bergen in 1962.")
    diary = _titled("Diary", "I read the notes about the marine lab on the train.")
    index = Index.from_documents([notes, diary, *FILLER], tmp_path / "index", embedder=embedder)
    answer = index.answer("When did the marine lab move to Bergen?")
    assert [c.doc_id for c in answer.citations] == [notes.doc_id]


MARSH = _titled("Ida Marsh", "Ida Marsh (born 3 May 1931) is a Welsh painter of harbours. She lives in Tenby.")
BRENN = _titled("Tomas Brenn", "Tomas Brenn (born 12 October 1948) is a Danish architect. He designed the Aarhus ferry terminal.")
COMPARISON = "Who was born first, Ida Marsh or Tomas Brenn?"


def test_a_comparison_quotes_what_the_documents_say_about_each_name(tmp_path: Path, embedder):
    index = Index.from_documents([MARSH, BRENN, *FILLER], tmp_path / "index", embedder=embedder)
    answer = index.answer(COMPARISON)
    assert not answer.abstained
    assert [c.doc_id for c in answer.citations] == [MARSH.doc_id, BRENN.doc_id]  # the question's order
    assert "born 3 May 1931" in answer.text and "born 12 October 1948" in answer.text
    assert len(" ".join(s.text for s in answer.sentences)) <= AnswerConfig().max_chars
    _check_citations(index, answer)
    # Asked about one of them, the reader answers as for any question.
    single = index.answer("When was Ida Marsh born?")
    assert [c.doc_id for c in single.citations] == [MARSH.doc_id]


def test_no_hop_to_a_document_that_only_mentions_the_name(tmp_path: Path, embedder):
    index = Index.from_documents([HUMBERT, STADIUM, DODGERS, *FILLER], tmp_path / "index", embedder=embedder)
    answer = index.answer(BRIDGE_QUESTION)
    assert STADIUM.doc_id not in {c.doc_id for c in answer.citations}
    assert answer.text == index.answer(BRIDGE_QUESTION, config=AnswerConfig(hops=1)).text


def test_a_hop_sentence_is_cut_to_the_room_the_answer_has_left(tmp_path: Path, embedder):
    index = Index.from_documents([HUMBERT, EAGLES, DODGERS, *FILLER], tmp_path / "index", embedder=embedder)
    first = index.answer(BRIDGE_QUESTION, config=AnswerConfig(hops=1))
    limit = len(" ".join(s.text for s in first.sentences)) + 90  # room for a cut hop sentence only
    answer = index.answer(BRIDGE_QUESTION, config=AnswerConfig(max_chars=limit))
    assert EAGLES.doc_id in {c.doc_id for c in answer.citations}
    assert len(" ".join(s.text for s in answer.sentences)) <= limit
    eagles = next(c for c in answer.citations if c.doc_id == EAGLES.doc_id)
    assert EAGLES.text[eagles.start : eagles.end] == eagles.quote


# Issue 12's new user: a three-paragraph company note, uploaded alone. One document of one or
# two chunks used to score every passage 0 (min-max over nothing) and let "when"/"what", absent
# from so small a collection, outweigh the question's own words: right answers came with a
# confidence of 0.01-0.28 and the learned composer abstained on them.
NOTE_PARAGRAPHS = [
    "Skyward Robotics reported third-quarter revenue of $48 million, up 22% from a year earlier, driven by "
    "warehouse automation contracts in Europe and North America.",
    "The company said its Bumble delivery drone will ship to the first commercial customers in March 2027, after "
    "regulators approved its collision-avoidance system last month. Chief executive Dana Ortiz called the "
    "approval the most important milestone in the firm's history.",
    "For the fourth quarter, Skyward expects revenue between $50 million and $53 million and plans to hire 120 "
    "engineers, mostly in its Lyon and Austin offices.",
]
# Each question with a term of it that the answer quotes. Whether the answer quotes the right
# sentence of its paragraph is benchmarks/answers.py's measure ("A short upload alone").
NOTE_QUESTIONS = [
    ("When will the Bumble drone ship?", "Bumble"),
    ("Who is the chief executive?", "chief executive"),
    ("How many engineers will Skyward hire?", "engineers"),
    ("What did regulators approve?", "regulators"),
    ("What revenue does Skyward expect for the fourth quarter?", "fourth quarter"),
]
NOTE_OFF_TOPIC = ["Who won the World Cup in 2018?", "What is the capital of Australia?", "How do I bake sourdough bread?"]


@pytest.fixture(scope="module")
def note_index(tmp_path_factory, embedder) -> Index:
    """The note uploaded alone, as a user's text file (benchmarks/answers.py builds the same)."""
    folder = tmp_path_factory.mktemp("note")
    note = folder / "note.txt"
    note.write_text("\n\n".join(NOTE_PARAGRAPHS), encoding="utf-8")
    return Index.build([note], folder / "index")


@pytest.mark.parametrize("question, term", NOTE_QUESTIONS)
def test_a_short_upload_is_answered_with_exact_quotes(note_index: Index, question: str, term: str):
    answer = note_index.answer(question)
    assert not answer.abstained and _quotes(answer, term)
    _check_citations(note_index, answer)


@pytest.mark.parametrize("question", NOTE_OFF_TOPIC)
def test_a_short_upload_abstains_off_topic(note_index: Index, question: str):
    assert note_index.answer(question).abstained


def test_a_short_upload_is_confident_in_its_right_answers(note_index: Index):
    right = note_index.answer("When will the Bumble drone ship?")
    assert right.confidence >= LIKELY_CONFIDENCE
    learned = note_index.answer("How many engineers will Skyward hire?", config=LEARNED_CONFIG)
    assert not learned.abstained and _quotes(learned, "engineers")


def test_an_answer_within_documents_cites_only_them_and_abstains_when_they_dont_say(tmp_path: Path, embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "hut.txt").write_text(
        "The Vatnajökull research hut stores exactly forty-two sledges for the winter season.\n", encoding="utf-8"
    )
    index = Index.build([corpus], tmp_path / "index")
    hut = next(e.doc_id for e in index.documents() if e.path.endswith("hut.txt"))
    seed = next(e.doc_id for e in index.documents() if e.doc_id != hut)
    sledges = "How many sledges does the research hut store?"
    within = index.answer(sledges, documents=[hut])
    assert not within.abstained and {c.doc_id for c in within.citations} == {hut}
    assert index.answer(sledges, documents=[seed]).abstained  # the seed doesn't say
    backstop = index.answer("What is the US backstop position?", documents=[seed, hut])
    assert _quotes(backstop, "backstop") and {c.doc_id for c in backstop.citations} <= {seed, hut}
