"""The switch core imports only the standard library and itself (no I/O layers)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import p4lite.switch.core as core

CORE_DIR = Path(core.__file__).resolve().parent
STF = CORE_DIR.parent / "stf.py"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_uses_only_stdlib_and_itself() -> None:
    files = sorted(CORE_DIR.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            if name.startswith("p4lite."):
                assert name.startswith("p4lite.switch.core"), f"{path.name} imports {name}"
            else:
                assert top in sys.stdlib_module_names or top == "__future__", (
                    f"{path.name} imports non-stdlib module {name}"
                )


def test_stf_runner_imports_only_the_core() -> None:
    for name in imported_modules(STF):
        if name.startswith("p4lite."):
            assert name.startswith("p4lite.switch.core"), name
        else:
            assert name.split(".")[0] in sys.stdlib_module_names or name == "__future__", name
