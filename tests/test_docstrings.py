"""Every public class, function, method and property of qa says why it is there (issue 20, item 9).

Read from the source with `ast`: a name that does not start with "_" is public; methods count
inside public classes.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "qa"
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def undocumented(tree: ast.AST, where: str) -> list[str]:
    """`where:line name` of each public definition in `tree` without a docstring."""
    missing = []
    for node in ast.iter_child_nodes(tree):
        if not isinstance(node, Definition) or node.name.startswith("_"):
            continue
        if not ast.get_docstring(node):
            missing.append(f"{where}:{node.lineno} {node.name}")
        if isinstance(node, ast.ClassDef):
            missing.extend(f"{entry} (in {node.name})" for entry in undocumented(node, where))
    return missing


def test_every_public_definition_has_a_docstring():
    missing = [
        entry
        for path in sorted(PACKAGE.rglob("*.py"))
        for entry in undocumented(ast.parse(path.read_text(encoding="utf-8")), str(path.relative_to(PACKAGE.parent)))
    ]
    assert not missing, "no docstring:\n" + "\n".join(missing)


def test_private_and_documented_definitions_pass_and_public_ones_without_fail():
    source = (
        'def public():\n    """Why."""\n'
        "def _private():\n    pass\n"
        'class Shown:\n    """Why."""\n    def method(self):\n        pass\n    def _hidden(self):\n        pass\n'
        "def bare():\n    return 1\n"
    )
    assert undocumented(ast.parse(source), "m.py") == ["m.py:7 method (in Shown)", "m.py:11 bare"]
