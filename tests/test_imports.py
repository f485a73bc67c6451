"""The package's import graph: no module of qa imports, directly or through others, itself,
and no stage of the flow imports a later one (`STAGES`, drawn in docs/architecture.md).

Every `import`/`from ... import` of a qa module counts, wherever it stands: at the top, inside a
function (a lazy import is still a dependency) or under `TYPE_CHECKING`. Read from the source
with `ast`, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path


PACKAGE = Path(__file__).resolve().parents[1] / "qa"

# The flow, first stage first: a module may import its own stage and earlier ones only. The
# `Index` coordinator (qa.index.coordinator) sits above answering because `Index.answer`
# composes answers; what it coordinates (segments, the store, views, search) is in the index
# stage below. A subpackage's `__init__` imports nothing, so it belongs to the base stage.
STAGES = (
    ("base", "qa.paths qa.checksums qa.errors qa.loading.file_limits "
             "qa.loading qa.text qa.models qa.index qa.answering qa.serving qa.eval"),
    ("loading", "qa.loading.plain_text qa.loading.formats qa.loading.regular_files qa.loading.parser_child "
                "qa.loading.parsing qa.loading.documents"),
    ("text", "qa.text.chunking"),
    ("models", "qa.models.precision qa.models.slicing qa.models.pooling qa.models.query_encoding qa.models.packaged "
               "qa.models.torch_model qa.models.model_passes qa.models.embedding qa.models.reading"),
    ("index", "qa.index.lexical qa.index.ann qa.index.document_table qa.index.segments qa.index.settings "
              "qa.index.store qa.index.segment_commits qa.index.view qa.index.merging qa.index.ingest "
              "qa.index.retrieval qa.index.search qa.index.planning qa.index.writer qa.index.watching qa.index.ray_worker qa.index.distributed"),
    ("answering", "qa.answering.config qa.answering.sentence_scoring qa.answering.candidates qa.answering.pointing qa.answering.windows "
                  "qa.answering.bridging qa.answering.hops qa.answering.compose"),
    ("library", "qa.index.coordinator qa.answering.rescoring qa.defaults"),
    ("serving and evaluation", "qa.serving.page_assets qa.serving.rendering qa.serving.documents_tab qa.serving.uploads qa.serving.feedback qa.serving.listening "
                               "qa.serving.service qa.serving.api qa.serving.markdown qa.serving.openai_api qa.serving.documents_events qa.serving.web qa.serving.server qa.eval.evaluation qa.eval.answer_evaluation qa.eval.eval_runs"),
    ("command line", "qa.terminal qa.cli"),
)
STAGE_OF = {module: number for number, (_, modules) in enumerate(STAGES) for module in modules.split()}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, known: set[str]) -> set[str]:
    """The qa modules a module's source imports (`from qa.index import store` counts qa.index.store)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    """Each qa module and the qa modules it imports, the package itself left out (its
    `__init__` re-exports the public API from the modules below it)."""
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    known = set(paths) - {"qa"}
    return {
        name: imported_modules(ast.parse(path.read_text(encoding="utf-8")), known) - {name}
        for name, path in paths.items()
        if name != "qa"
    }


def first_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph` as the modules around it (the first again at the end), or None."""
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        return list(error.args[1])
    return None


def test_no_module_imports_itself_through_others():
    cycle = first_cycle(import_graph())
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


def test_a_circle_is_named_module_by_module():
    cycle = first_cycle({"qa.a": {"qa.b"}, "qa.b": {"qa.c"}, "qa.c": {"qa.a"}, "qa.d": {"qa.a"}})
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"qa.a", "qa.b", "qa.c"}
    assert first_cycle({"qa.a": {"qa.b"}, "qa.b": set()}) is None


def upward_imports(graph: dict[str, set[str]], stage_of: dict[str, int]) -> list[str]:
    """"a -> b" for each import of a module in a later stage than the importer's."""
    return [f"{a} -> {b}" for a, imported in sorted(graph.items()) for b in sorted(imported) if stage_of[b] > stage_of[a]]


def test_every_module_has_a_stage():
    assert set(import_graph()) - set(STAGE_OF) == set(), "add the new module to STAGES (and docs/architecture.md)"


def test_no_stage_imports_a_later_one():
    assert upward_imports(import_graph(), STAGE_OF) == []


def test_an_upward_import_is_named():
    graph = {"qa.low": {"qa.high"}, "qa.high": {"qa.low"}}
    assert upward_imports(graph, {"qa.low": 0, "qa.high": 1}) == ["qa.low -> qa.high"]


def test_lazy_and_type_checking_imports_count():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from qa.index.coordinator import Index\n"
        "def f():\n    import qa.loading.formats\n    from qa.text import chunking\n"
    )
    known = {"qa.index.coordinator", "qa.loading.formats", "qa.text.chunking"}
    assert imported_modules(ast.parse(source), known) == known


def test_loading_has_no_circle_any_more():
    graph = import_graph()
    assert "qa.loading.documents" not in graph["qa.loading.formats"]
    assert {"qa.loading.file_limits"} <= graph["qa.loading.formats"] and {"qa.loading.file_limits", "qa.loading.formats"} <= graph["qa.loading.documents"]
