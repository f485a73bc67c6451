"""`qa index` on a folder of bad files among good ones (issue 10's bar): a malformed .docx, a
.docx zip bomb, a truncated PDF and a binary .txt next to the seed article and a few good
files. Prints seconds, the child's peak RSS, the files indexed and each file skipped with its
reason, and whether a traceback appeared.

    python benchmarks/bad_files.py [--bomb-mb 500] [--keep DIR]

The bar: the good files indexed, each bad one named, no traceback, <= 60 s and <= 1.5 GB.
`build_folder` is also used by tests/test_properties.py (the behaviour, not the seconds), which
loads this file by path: so it imports nothing of tests/, and finds `common` itself.
"""

from __future__ import annotations

import argparse
import io
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # loaded by path (tests/test_properties.py): last, shadowing nothing
    sys.path.append(str(HERE))
import common  # noqa: E402

SEED_STEM = "000_56409ce4796d023f"
DEFAULT_BOMB_MB = 500
MIB = 1024 * 1024
BINARY_BYTES = 64 * 1024
# What the bar allows (issue 10).
MAX_SECONDS = 60.0
MAX_RSS_MB = 1536

GOOD_FILES = (f"{SEED_STEM}.txt", "harbour.md", "council.html", "minutes.docx", "exports.pdf")
BAD_FILES = ("malformed.docx", "bomb.docx", "truncated.pdf", "binary.txt")
SKIPPED_LINE = re.compile(r"^qa: skipped (?P<path>.+?): (?P<reason>.*)$")
_INDEXED_LINE = re.compile(r"indexed (?P<documents>\d+) document\(s\), (?P<passages>\d+) passage\(s\)")


def _docx(paragraphs: list[str]) -> bytes:
    """A real .docx with these paragraphs (python-docx, a dependency of qa's loader)."""
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _write_docx_with(path: Path, write_main_part: Callable[[BinaryIO], object]) -> None:
    """A real .docx whose word/document.xml is written by `write_main_part(stream)`."""
    with zipfile.ZipFile(io.BytesIO(_docx(["Placeholder."]))) as original, zipfile.ZipFile(
        path, "w", zipfile.ZIP_DEFLATED, compresslevel=9
    ) as copy:
        for item in original.infolist():
            if item.filename == "word/document.xml":
                main_part = zipfile.ZipInfo(item.filename)
                main_part.compress_type = zipfile.ZIP_DEFLATED
                with copy.open(main_part, "w", force_zip64=True) as stream:
                    write_main_part(stream)
            else:
                copy.writestr(item, original.read(item))


def _write_bomb(path: Path, inflated_bytes: int) -> None:
    """A .docx of a few hundred KB whose main part inflates to `inflated_bytes` of XML."""
    block = b" " * MIB

    def write(stream: BinaryIO) -> None:
        stream.write(b"<w:document>")
        for _ in range(inflated_bytes // MIB):
            stream.write(block)
        stream.write(b"</w:document>")

    _write_docx_with(path, write)


def build_folder(folder: Path, bomb_bytes: int = DEFAULT_BOMB_MB * MIB) -> None:
    """The good files (GOOD_FILES) and the bad ones (BAD_FILES) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".txt", ".meta.json"):
        shutil.copy(common.SEEDS / f"{SEED_STEM}{suffix}", folder / f"{SEED_STEM}{suffix}")
    (folder / "harbour.md").write_text(
        "# Harbour\n\nThe harbour reopened in March after the storm. Ferries now run twice a day.\n"
    )
    (folder / "council.html").write_text(
        "<html><head><title>Council</title></head><body><article>"
        "<p>The council approved the new budget on Tuesday.</p><p>The vote was unanimous.</p>"
        "</article></body></html>"
    )
    (folder / "minutes.docx").write_bytes(_docx(["The minutes record a long debate.", "Nobody objected."]))
    good_pdf = common.one_page_pdf("Exports grew by four percent last year.")
    (folder / "exports.pdf").write_bytes(good_pdf)

    _write_docx_with(folder / "malformed.docx", lambda stream: stream.write(b"<w:document><w:body><w:p>unclosed"))
    _write_bomb(folder / "bomb.docx", bomb_bytes)
    (folder / "truncated.pdf").write_bytes(good_pdf[: len(good_pdf) // 3])
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00" + random.Random(0).randbytes(BINARY_BYTES))


@dataclass
class IndexRun:
    """What one `qa index` child did: its command, exit, time, memory and what it printed."""

    command: list[str]
    exit_code: int
    seconds: float
    peak_rss_mb: float
    documents: int
    passages: int
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> reason
    traceback: bool = False


def run_index(folder: Path, index: Path) -> IndexRun:
    """`qa index folder --index index` in a child process, with its time and peak RSS."""
    command = common.qa_command() + ["index", str(folder), "--index", str(index)]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    # The largest resident set of any child waited for; this script starts no other child.
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    indexed = _INDEXED_LINE.search(result.stdout)
    skipped = {}
    for line in result.stderr.splitlines():
        match = SKIPPED_LINE.match(line)
        if match:
            skipped[Path(match.group("path")).name] = match.group("reason")
    return IndexRun(
        command=command,
        exit_code=result.returncode,
        seconds=seconds,
        peak_rss_mb=peak_kb / 1024,
        documents=int(indexed.group("documents")) if indexed else 0,
        passages=int(indexed.group("passages")) if indexed else 0,
        skipped=skipped,
        traceback="Traceback" in result.stdout + result.stderr,
    )


def print_report(run: IndexRun, folder: Path) -> bool:
    """The table; True when the run meets the bar."""
    named = all(name in run.skipped for name in BAD_FILES)
    good = run.documents == len(GOOD_FILES) and not set(GOOD_FILES) & set(run.skipped)
    passed = (
        run.exit_code == 0 and good and named and not run.traceback
        and run.seconds <= MAX_SECONDS and run.peak_rss_mb <= MAX_RSS_MB
    )
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    print(f"command: {' '.join(run.command)}")
    print()
    print("| seconds | peak RSS MB | exit | indexed | passages | skipped | traceback |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {run.seconds:.1f} | {run.peak_rss_mb:.0f} | {run.exit_code} | {run.documents} of {len(GOOD_FILES)} "
        f"| {run.passages} | {len(run.skipped)} of {len(BAD_FILES)} | {'yes' if run.traceback else 'no'} |"
    )
    print()
    print("| file skipped | size on disk | reason |")
    print("|---|---|---|")
    for name, reason in sorted(run.skipped.items()):
        print(f"| {name} | {sizes.get(name, 0):,} B | {reason} |")
    print()
    print(f"bar (good indexed, each bad named, no traceback, <= {MAX_SECONDS:.0f} s, <= {MAX_RSS_MB} MB): "
          f"{'met' if passed else 'NOT met'}")
    return passed


def main() -> int:
    """Build the folder, index it in a child process, print the table; 1 when the bar is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bomb-mb", type=int, default=DEFAULT_BOMB_MB, help="what the zip bomb inflates to")
    parser.add_argument("--keep", type=Path, help="build the folder and index here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        folder, index = root / "corpus", root / "index"
        build_folder(folder, args.bomb_mb * MIB)
        print(f"built {folder}: bomb.docx is {(folder / 'bomb.docx').stat().st_size:,} bytes, inflating to {args.bomb_mb} MB")
        run = run_index(folder, index)
        return 0 if print_report(run, folder) else 1


if __name__ == "__main__":
    raise SystemExit(main())
