"""Import direction inside the switch: the core imports neither ports nor
server, ports import neither core nor server."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SWITCH = Path(__file__).resolve().parents[3] / "p4lite" / "switch"


def _imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (SWITCH / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            match node:
                case ast.Import(names=names):
                    found.update(alias.name for alias in names)
                case ast.ImportFrom(module=module) if module:
                    found.add(module)
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("core", ("p4lite.switch.server", "p4lite.switch.ports", "grpc", "p4.")),
        ("ports", ("p4lite.switch.server", "p4lite.switch.core", "grpc", "p4.")),
    ],
)
def test_layer_imports(package: str, forbidden: tuple[str, ...]) -> None:
    if not (SWITCH / package).is_dir():
        pytest.skip(f"p4lite.switch.{package} is not there")
    bad = sorted(m for m in _imports(package) if m.startswith(forbidden))
    assert bad == [], f"p4lite.switch.{package} imports {bad}"


def test_server_uses_the_core_only_through_its_api() -> None:
    imports = _imports("server")
    core = {m for m in imports if m.startswith("p4lite.switch.core")}
    assert core <= {"p4lite.switch.core", "p4lite.switch.core.api"}
