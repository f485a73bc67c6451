"""The house's size rules (issue 20), so a module that grows past them fails here, not in review:
at most 8 modules at the top of `qa/`, the rest in stage subpackages; no module over 500 lines,
no class over 300, no function over 80."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qa"
MAX_TOP_LEVEL_MODULES = 8
MIN_STAGE_PACKAGES = 4
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 80
MODULES = sorted(PACKAGE.rglob("*.py"))


def _lines(node: ast.AST) -> int:
    return node.end_lineno - node.lineno + 1


def test_the_package_top_is_small_and_the_stages_are_folders():
    top = [p for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    stages = [p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, sorted(p.name for p in top)
    assert len(stages) >= MIN_STAGE_PACKAGES, sorted(p.name for p in stages)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_classes_and_functions_stay_readable(path: Path):
    source = path.read_text(encoding="utf-8")
    too_long = [f"module: {len(source.splitlines())} lines"] if len(source.splitlines()) > MAX_MODULE_LINES else []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and _lines(node) > MAX_CLASS_LINES:
            too_long.append(f"class {node.name}: {_lines(node)} lines")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _lines(node) > MAX_FUNCTION_LINES:
            too_long.append(f"function {node.name}: {_lines(node)} lines")
    assert not too_long, too_long
