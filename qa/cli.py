"""The `qa` command: index documents, search them, ask questions, serve the web chat.

    qa index seeds/ more/ [--index DIR]        bring an index in step with these paths (built if none)
    qa index seeds/ --rebuild                  start over: a new index of exactly these paths
    qa add notes.md [--index DIR]              add or update files; qa remove DOC_ID... removes documents
    qa index --compact [--index DIR]           merge the index's segments into one
    qa index docs/ --sentence-vectors separate encode passages too (two model passes)
    qa index docs/ --ray [ADDRESS]             embed on a Ray cluster (the index folder shared)
    qa search "what is the US backstop position?" -k 3 [--json] [--rescore]
    qa ask "What is the US backstop position?" [--json | --markdown] [--doc ID ...]
    qa chat                                    a conversation in the terminal, with follow-ups
    qa docs                                    list indexed documents
    qa eval squad|squad2|hotpot [--sample N] [--single-article] [--json] [--rescore]
    qa eval --questions my.jsonl --docs DIR    measure on your own questions
    qa serve [--host 127.0.0.1] [--port 7860] [--read-only]   the web chat and JSON API
    qa serve --watch ~/notes [--poll]          ... following a folder: changes indexed within seconds

Without --index, search/ask/chat/docs/add/remove use the default corpus (seeds/ -> index/, built on first use).
Exit codes: 0 success (an abstained answer included), 1 index or model problem, 2 bad input.
Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from qa.loading.documents import printable
from qa.errors import describe_os_error, record_internal_error
from qa.models.reading import ReaderProblem
from qa.errors import IndexProblem, ModelUnavailable
from qa.index.planning import UpdateReport
from qa.index.settings import VECTOR_METHODS

if TYPE_CHECKING:  # pragma: no cover
    from qa.index.coordinator import Index

EXIT_OK, EXIT_PROBLEM, EXIT_BAD_INPUT = 0, 1, 2
LOCAL_RAY = "local"  # `--ray` without an address: start a local Ray for the job
RESCORE_HELP = "re-score the top 20 with all-mpnet-base-v2 (optional packages; slower; see README)"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit code is 2, as ours
        self.exit(EXIT_BAD_INPUT, f"qa: error: {message}\n")


def _index(args: argparse.Namespace):
    """The index a question goes to; the question is checked first, so a bad one costs no
    index build or load."""
    from qa.defaults import default_index
    from qa.index.coordinator import Index
    from qa.index.retrieval import check_question

    if getattr(args, "question", None) is not None:  # `qa docs` has none
        check_question(args.question)
    return Index.open(args.index) if args.index else default_index()


def cmd_index(args: argparse.Namespace) -> int:
    """`qa index PATHS`: bring the index at --index (default index/) in step with exactly those
    paths (new files added, changed ones read again, files gone from them removed; documents
    from other paths and uploads left alone), building it when there is none; `--rebuild`
    starts over; `--compact` merges its segments. One summary line; each skipped file on stderr."""
    from qa.paths import index_dir
    from qa.index.coordinator import Index

    path = Path(args.index) if args.index else index_dir()
    if args.compact:
        if args.paths or args.rebuild:
            raise ValueError("--compact merges an existing index; give no paths (nor --rebuild) with it")
        index = Index.open(path)
        merged = index.compact()
        documents, chunks = index.size
        print(f"merged {merged} segment(s): {len(index.segments())} segment(s), {documents} document(s), {chunks} passage(s) in {path}")
        return EXIT_OK
    ray = _ray_options(args)  # first: `--ray PATH` took the path as an address
    if not args.paths:
        raise ValueError("give the files or folders to index (or --compact)")
    index = None if args.rebuild else _usable_index(path)
    progress = True if args.progress else None
    if index is None:
        index = Index.build(args.paths, path, progress=progress, sentence_vectors=args.sentence_vectors, **ray)
        report = UpdateReport(added=[d.doc_id for d in index.documents()], skipped=index.skipped)
    elif ray or args.sentence_vectors:
        raise ValueError(f"--ray and --sentence-vectors choose how a new index is built; add --rebuild to rebuild {path}")
    else:
        report = index.sync(args.paths, progress=progress)
    documents, chunks = index.size
    _print_report(f"indexed {documents} document(s), {chunks} passage(s) into {path}", report)
    return EXIT_OK


def _usable_index(path: Path) -> "Index | None":
    """The index at `path` to sync; None when there is none or it cannot be used as it is (damaged,
    another model version), said in one line: then `qa index` builds it anew."""
    from qa.errors import IndexCorrupted, IndexMismatch, IndexNotFound
    from qa.index.coordinator import Index

    try:
        return Index.open(path)
    except IndexNotFound:
        return None
    except (IndexCorrupted, IndexMismatch) as problem:
        print(f"qa: rebuilding the index: {problem}", file=sys.stderr)
        return None


SKIPS_NAMED = 3  # skipped files the summary line names; stderr lists every one


def _print_report(head: str, report: "UpdateReport") -> None:
    """Each skipped file on stderr (`qa: skipped PATH: reason`), then one summary line on stdout:
    `HEAD: 1 added, 1 updated, 1 removed, 5 unchanged, 1 skipped (PATH: reason)`."""
    for skipped in report.skipped:
        print(f"qa: {skipped}", file=sys.stderr)
    counts = [f"{len(report.added)} added", f"{len(report.updated)} updated", f"{len(report.removed)} removed"]
    counts += [f"{len(report.unchanged)} unchanged", f"{len(report.skipped)} skipped"]
    reasons = "; ".join(f"{printable(s.path)}: {s.reason}" for s in report.skipped[:SKIPS_NAMED])
    more = len(report.skipped) - SKIPS_NAMED
    if more > 0:
        reasons += f"; {more} more listed above"
    print(f"{head}: {', '.join(counts)}" + (f" ({reasons})" if reasons else ""))


def cmd_add(args: argparse.Namespace) -> int:
    """`qa add PATH...`: add or update those files and folders (their unchanged files cost
    nothing); exit 2 when a path is missing or nothing under them could be read."""
    index = _index(args)
    for given in args.paths:
        if not os.path.lexists(given):
            raise ValueError(f"no such file or folder: {printable(str(given))}")
    report = index.add(args.paths)
    documents, chunks = index.size
    _print_report(f"{documents} document(s), {chunks} passage(s) in {index.path}", report)
    readable = report.added or report.updated or report.unchanged
    return EXIT_OK if readable else EXIT_BAD_INPUT


def cmd_remove(args: argparse.Namespace) -> int:
    """`qa remove DOC_ID...`: remove those documents in one commit (an unknown id is exit 2,
    before anything is removed); an upload's stored file is deleted too, as the chat does."""
    from qa.serving.uploads import is_upload

    index = _index(args)
    known = {entry.doc_id: entry.path for entry in index.documents()}
    for doc_id in args.doc_ids:
        if doc_id not in known:
            raise ValueError(f"no document {printable(doc_id)!r} in the index at {index.path}; qa docs lists them")
    ids = list(dict.fromkeys(args.doc_ids))
    index.remove(ids)
    for doc_id in ids:
        if is_upload(known[doc_id]):
            Path(known[doc_id]).resolve().unlink(missing_ok=True)
    documents, chunks = index.size
    print(f"removed {', '.join(ids)}: {documents} document(s), {chunks} passage(s) left in {index.path}")
    return EXIT_OK


def _ray_options(args: argparse.Namespace) -> dict:
    """`Index.build`'s executor arguments for `--ray [ADDRESS]` (none without it)."""
    if args.ray is None:
        return {}
    address = None if args.ray == LOCAL_RAY else args.ray
    if address is not None and Path(address).exists():
        raise ValueError(f"--ray took {address!r} as a cluster address; put --ray after the paths, or write --ray=ADDRESS")
    return {"executor": "ray", "ray_address": address}


def cmd_search(args: argparse.Namespace) -> int:
    """`qa search`: the top -k passages with their scores and where each comes from, or --json."""
    from qa.answering.rescoring import retriever_for

    passages = retriever_for(_index(args), args.rescore).retrieve(args.question, k=args.k, documents=args.doc)
    if args.json:
        print(json.dumps([asdict(p) for p in passages], ensure_ascii=False, indent=1))
        return EXIT_OK
    for rank, p in enumerate(passages, 1):
        print(f"{rank}. [{p.score:.3f}] {p.title} — {p.source}, paragraph {p.paragraph}, chars {p.start}-{p.end}")
        print(f"   {p.text}\n")
    return EXIT_OK


def cmd_ask(args: argparse.Namespace) -> int:
    """`qa ask`: the cited answer, then its numbered sources, or --json or --markdown (the chat's
    export of one answer); an abstention is exit 0 too."""
    answer = _index(args).answer(args.question, documents=args.doc)
    if args.json:
        from qa.answering.compose import answer_json

        payload = answer_json(answer)
        print(json.dumps(payload, ensure_ascii=False, indent=1))
    elif args.markdown:
        from qa.serving.markdown import conversation_markdown

        print(conversation_markdown([answer]), end="")
    else:
        from qa.terminal import print_answer

        print_answer(answer)
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    """`qa chat`: a conversation in the terminal (`qa.terminal.chat`)."""
    from qa.terminal import chat

    chat(_index(args))
    return EXIT_OK


def cmd_docs(args: argparse.Namespace) -> int:
    """`qa docs`: one tab-separated line per indexed document, easy to cut or grep."""
    for entry in _index(args).documents():
        print(
            f"{entry.doc_id}\t{entry.title}\t{entry.source}\t{entry.paragraphs} paragraphs\t"
            f"{entry.chunks} passage{'s' if entry.chunks != 1 else ''}\tadded {entry.added}"
        )
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    """`qa eval`: run a suite (`qa.eval.eval_runs.run_eval`) with a progress bar on stderr, then print
    one line per measure, or the whole report with --json."""
    from tqdm import tqdm

    from qa.eval.eval_runs import EvalRequest, run_eval

    suite = args.suite or ("custom" if args.questions else None)
    if suite is None:
        raise ValueError("name a suite (squad, squad2, hotpot) or give --questions and --docs")
    request = EvalRequest(
        suite=suite,
        sample=args.sample,
        single_article=args.single_article,
        data=Path(args.data) if args.data else None,
        cache=Path(args.cache) if args.cache else None,
        questions_file=Path(args.questions) if args.questions else None,
        docs=Path(args.docs) if args.docs else None,
        rescore=args.rescore,
    )
    with tqdm(desc="questions", unit="q", file=sys.stderr, disable=args.json) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = run_eval(request, progress)
    if args.json:
        print(json.dumps(asdict(report), indent=1))
        return EXIT_OK
    print(f"{report.suite}: {report.documents:,} documents, {report.passages:,} passages")
    if report.retrieval:
        r, m = report.retrieval, report.retrieval.metrics
        recalls = " ".join(f"R@{k} {v:.3f}" for k, v in zip(m.ks, m.recall))
        how = "mpnet re-scored, " if report.rescored else ""
        print(
            f"retrieval ({how}{r.questions:,} questions): {recalls}  MRR@10 {m.mrr_at_10:.3f}  "
            f"nDCG@10 {m.ndcg_at_10:.3f}  strict R@5 {r.strict_recall_at_5:.3f}  "
            f"p50 {r.latency.p50_ms:.1f} ms  p95 {r.latency.p95_ms:.1f} ms"
        )
    if report.answers:
        a = report.answers
        print(
            f"answers ({a.questions:,} questions): gold in answer {a.contains_gold:.3f}  "
            f"citation covers gold {a.citation_covers_gold:.3f}  abstained {a.abstained:.3f}  "
            f"mean {a.mean_chars:.0f} chars  short answer EM {a.short_exact:.3f} F1 {a.short_f1:.3f}  "
            f"p50 {a.latency.p50_ms:.1f} ms  p95 {a.latency.p95_ms:.1f} ms"
        )
    if report.abstention:
        p = report.abstention
        print(
            f"abstention: unanswerable abstained {p.unanswerable_abstained:.3f}  "
            f"answerable wrongly abstained {p.answerable_abstained:.3f}"
        )
    if report.multi_hop:
        h = report.multi_hop
        print(
            f"multi-hop: both gold in top 5 {h.both_in_top5:.3f}  top 10 {h.both_in_top10:.3f}  "
            f"top 10 with the second hop {h.both_in_top10_with_hop:.3f}  answers citing both {h.answers_cite_both:.3f}"
        )
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """`qa serve`: bind the port first, so a busy one fails at once (exit 1), then serve until
    Ctrl-C; `--watch FOLDER...` follows those folders into the served index."""
    from qa.serving.listening import ListenError, open_listener

    for given in args.watch:
        if not os.path.isdir(given):
            raise ValueError(f"--watch takes folders: {printable(str(given))} is not one")
    if args.poll and not args.watch:
        raise ValueError("--poll goes with --watch FOLDER")
    try:  # the port first: a busy one fails in a blink, not after Gradio's import and a traceback
        listener = open_listener(args.host, args.port, share=args.share)
    except ListenError as error:
        print(f"qa: error: {error}", file=sys.stderr)
        return EXIT_PROBLEM
    from qa.serving.server import serve

    watching = {"watch": args.watch, "force_polling": True if args.poll else None}
    serve(index_path=args.index, share=args.share, read_only=args.read_only, listener=listener, **watching)
    return EXIT_OK


def _add_index_commands(sub: argparse._SubParsersAction) -> None:
    """`qa index`, `qa add` and `qa remove`: the commands that write an index."""
    p = sub.add_parser("index", help="bring an index in step with files and folders (built when there is none)")
    p.add_argument("paths", nargs="*", help=".txt, .md, .html, .pdf, .docx files or folders")
    p.add_argument("--index", help="index folder (default: the project's index/)")
    p.add_argument("--rebuild", action="store_true", help="start over: a new index of exactly these paths")
    p.add_argument("--progress", action="store_true", help="always show the embedding progress bar")
    p.add_argument("--compact", action="store_true", help="merge the existing index's segments into one")
    p.add_argument(
        "--sentence-vectors",
        choices=VECTOR_METHODS,
        help="sentence-pass (default): one model pass over sentences, passage vectors pooled from "
        "them; separate: passages encoded too (twice the model time, the same SQuAD R@1); late: "
        "one pass over passages, sentence vectors pooled from it (SQuAD R@1 .838 instead of .843)",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL_RAY,
        metavar="ADDRESS",
        help="load and embed on a Ray cluster (ADDRESS, e.g. head:6379; without it a local Ray for the job); "
        "the index folder must be shared with every worker; needs pip install -e \".[ray]\"",
    )
    p.set_defaults(run=cmd_index)

    p = sub.add_parser("add", help="add or update files and folders in the index")
    p.add_argument("paths", nargs="+", help=".txt, .md, .html, .pdf, .docx files or folders")
    p.add_argument("--index", help="index folder (default: the default corpus)")
    p.set_defaults(run=cmd_add)

    p = sub.add_parser("remove", help="remove documents from the index (qa docs lists their ids)")
    p.add_argument("doc_ids", nargs="+", metavar="DOC_ID")
    p.add_argument("--index", help="index folder (default: the default corpus)")
    p.set_defaults(run=cmd_remove)


def _add_serve_command(sub: argparse._SubParsersAction) -> None:
    """`qa serve` and its options."""
    p = sub.add_parser("serve", help="start the web chat")
    p.add_argument("--host", help="interface to listen on (default: $QA_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: $QA_PORT or 7860)")
    p.add_argument("--index", help="index folder (default: the default corpus)")
    p.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    p.add_argument("--read-only", action="store_true", help="refuse uploads, removals and rebuilds (UI and API)")
    p.add_argument(
        "--watch", nargs="+", action="extend", default=[], metavar="PATH",
        help="follow these folders: files added, changed or deleted there reach the index within seconds",
    )
    p.add_argument(
        "--poll", action="store_true",
        help="with --watch: list the folders twice a second instead of waiting for change events (network file systems)",
    )
    p.set_defaults(run=cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    """The `qa` argument parser: each subcommand sets `run` to its `cmd_*` function; bad
    arguments exit 2 with one line."""
    parser = _Parser(prog="qa", description="Question answering over your documents, with citations.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    _add_index_commands(sub)

    for name, run, text in (
        ("search", cmd_search, "the passages that best match a question"),
        ("ask", cmd_ask, "a cited answer to a question"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("question")
        p.add_argument("--index", help="index folder (default: the default corpus)")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.add_argument(
            "--doc", action="append", metavar="ID", help="only from this document (repeatable; `qa docs` lists the ids)"
        )
        if name == "ask":
            p.add_argument("--markdown", action="store_true", help="print the answer as Markdown, as the chat exports it")
        if name == "search":
            p.add_argument("-k", type=int, default=5, help="number of passages (1-100)")
            p.add_argument("--rescore", action="store_true", help=RESCORE_HELP)
        p.set_defaults(run=run)

    p = sub.add_parser("chat", help="a conversation in the terminal: follow-ups, sources after each answer")
    p.add_argument("--index", help="index folder (default: the default corpus)")
    p.set_defaults(run=cmd_chat)

    p = sub.add_parser("docs", help="list indexed documents")
    p.add_argument("--index", help="index folder (default: the default corpus)")
    p.set_defaults(run=cmd_docs)

    p = sub.add_parser("eval", help="measure retrieval and answers on a benchmark or your own set")
    p.add_argument("suite", nargs="?", choices=["squad", "squad2", "hotpot"])
    p.add_argument("--sample", type=int, default=0, help="questions to draw (0 = all)")
    p.add_argument("--single-article", action="store_true", help="squad: one index per article")
    p.add_argument("--data", help="benchmark data folder (default: ../shared/data or $QA_BENCH_DATA)")
    p.add_argument("--cache", help="where built indexes are kept (default: $QA_DATA/eval-cache)")
    p.add_argument("--questions", help='your questions, JSONL: {"question", "answers": [...], "doc_id"?}')
    p.add_argument("--docs", help="your documents (with --questions)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--rescore", action="store_true", help=RESCORE_HELP)
    p.set_defaults(run=cmd_eval)

    _add_serve_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `qa` with `argv` (default: sys.argv) and return the exit code; any error is one line
    on stderr, a bug an id whose traceback is in the log."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError) as error:
        print(f"qa: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (IndexProblem, ModelUnavailable, ReaderProblem, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"qa: error: {message}", file=sys.stderr)
        return EXIT_PROBLEM
    except OSError as error:  # the disk, a folder's permissions, a port: say which and the fix
        print(f"qa: error: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - a bug: an id here, the traceback in the log
        print(f"qa: {record_internal_error(error, f'qa {args.command}')}", file=sys.stderr)
        return EXIT_PROBLEM


if __name__ == "__main__":
    sys.exit(main())
