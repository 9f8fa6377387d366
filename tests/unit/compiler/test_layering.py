"""The compiler imports neither the switch nor anything outside its allowed set."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[3] / "p4lite" / "compiler"
ALLOWED_THIRD_PARTY = ("google.protobuf", "p4.config.v1")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_compiler_imports_only_itself_stdlib_and_protos() -> None:
    modules = sorted(PKG.glob("*.py"))
    assert len(modules) > 10
    for path in modules:
        for name in imported_modules(path):
            top = name.split(".")[0]
            ok = (
                name.startswith("p4lite.compiler")
                or top in sys.stdlib_module_names
                or top == "__future__"
                or name.startswith(ALLOWED_THIRD_PARTY)
            )
            assert ok, f"{path.name} imports {name!r}"
            assert not name.startswith("p4lite.switch"), f"{path.name} imports the switch"


def test_back_ends_depend_on_the_ir_not_on_the_passes() -> None:
    for back_end in ("bmv2.py", "p4info.py"):
        names = imported_modules(PKG / back_end)
        assert not any(n.startswith("p4lite.compiler.lower_") for n in names)
        assert "p4lite.compiler.midend" not in names
