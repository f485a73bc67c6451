"""qa/index/lexical.py: BM25 with stemming and stop words, saved and loaded, index-wide IDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.index.lexical import BM25Config, LexicalIndex, lucene_idf, many_query_terms, query_terms

TEXTS = ["The cats were sleeping on the mat.", "A dog barked at the postman.", "Markets fell sharply."]


def _scores(bm25: LexicalIndex, query: str, config: BM25Config = BM25Config()) -> np.ndarray:
    terms = query_terms(query, config)
    return bm25.scores(terms, bm25.idf(terms))


def test_stemming_matches_word_forms():
    scores = _scores(LexicalIndex.build(TEXTS), "barking dogs")
    assert scores.argmax() == 1 and scores[0] == 0 and scores[2] == 0


def test_stop_words_and_unknown_words_score_zero():
    bm25 = LexicalIndex.build(TEXTS)
    assert not _scores(bm25, "the of and").any()
    assert not _scores(bm25, "zebra xylophone").any()
    assert query_terms("The Cats") == ("cat",)


def test_without_stemming_word_forms_do_not_match():
    config = BM25Config(stemming=False)
    assert not _scores(LexicalIndex.build(TEXTS, config), "barking dogs", config).any()


def test_scores_match_bm25s_with_the_segment_idf():
    import bm25s
    import Stemmer

    config = BM25Config()
    bm25 = LexicalIndex.build(TEXTS, config)
    terms = query_terms("dogs barking at markets")
    reference = bm25s.BM25(k1=config.k1, b=config.b)  # the library itself, indexed on its own
    reference.index(bm25s.tokenize(TEXTS, stopwords=config.stopwords, stemmer=Stemmer.Stemmer("english").stemWords, show_progress=False), show_progress=False)
    expected = reference.get_scores(list(terms))
    np.testing.assert_allclose(bm25.scores(terms, bm25.idf(terms)), expected, rtol=1e-6)


def test_a_global_idf_rescales_each_term():
    bm25 = LexicalIndex.build(TEXTS)
    terms = query_terms("dog")
    local = bm25.scores(terms, bm25.idf(terms))
    rarer = {"dog": lucene_idf(1, 300)}  # the word is rarer across the whole index
    np.testing.assert_allclose(bm25.scores(terms, rarer), local * rarer["dog"] / bm25.idf(terms)["dog"], rtol=1e-6)


def test_save_and_load_give_the_same_scores(tmp_path: Path):
    bm25 = LexicalIndex.build(TEXTS)
    bm25.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25", BM25Config(), len(TEXTS))
    terms = query_terms("markets fell")
    np.testing.assert_array_equal(loaded.scores(terms, loaded.idf(terms)), bm25.scores(terms, bm25.idf(terms)))


def test_many_query_terms_equal_one_call_per_text():
    texts = ["The cat sat on the mat.", "", "Running runners ran quickly; U.S. backstop!", "the and of", "naïve café rates 2025"]
    assert many_query_terms(texts) == [query_terms(t) for t in texts]
    assert many_query_terms([]) == []
    unseen = ["Glaciers retreated quickly.", "Glaciers retreated quickly.", "Barges sailed."]
    assert many_query_terms(unseen) == [("glacier", "retreat", "quick")] * 2 + [("barg", "sail")]


def test_terms_cache_keeps_the_most_recent_texts():
    from qa.index.lexical import TermsCache

    cache = TermsCache(2)
    config = BM25Config()
    cache.put(("a", config), ("a",))
    cache.put(("b", config), ("b",))
    assert cache.get(("a", config)) == ("a",)  # "a" is now the most recent
    cache.put(("c", config), ("c",))
    assert cache.get(("b", config)) is None and cache.get(("a", config)) == ("a",)
    assert cache.get(("a", BM25Config(stemming=False))) is None  # other settings, other terms
