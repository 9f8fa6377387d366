"""tools/check_imports.py: the project is clean, and a wrong import direction fails `make`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECKER = Path(__file__).resolve().parents[3] / "tools" / "check_imports.py"


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECKER), "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_project_follows_its_layers(repo_root: Path) -> None:
    result = _check(repo_root)
    assert result.returncode == 0, result.stderr
    assert "import directions: ok" in result.stdout


def test_entries_importing_grpc_is_refused(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "controller/__init__.py": "",
            "controller/entries/__init__.py": "",
            "controller/entries/tables.py": "import json\nimport grpc\n",
        },
    )
    result = _check(root)
    assert result.returncode == 1
    assert "controller/entries/tables.py:2: 'controller.entries.tables' must not import 'grpc'" in (
        result.stderr
    )


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "p4lite/__init__.py": "",
            "p4lite/switch/__init__.py": "",
            "p4lite/switch/core/__init__.py": "",
            "p4lite/switch/server/__init__.py": "",
            "p4lite/switch/core/engine.py": "from ..server import grpc_server\n",
        },
    )
    result = _check(root)
    assert result.returncode == 1
    assert "must not import 'p4lite.switch.server" in result.stderr


def test_nothing_imports_topologies(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "nodes/__init__.py": "from topologies import launch\n",
            "topologies/__init__.py": "from topologies import launch\n",
            "topologies/launch.py": "import controller\n",
        },
    )
    result = _check(root)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"{root}/nodes/__init__.py:1:")
    assert "1 import(s) against the layers" in lines[-1]


def test_make_lint_fails_on_a_wrong_import(tmp_path: Path, repo_root: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "p4lite/__init__.py": "",
            "p4lite/compiler/__init__.py": "from p4lite.switch import core\n",
        },
    )
    result = subprocess.run(
        ["make", "-s", "-C", str(repo_root), "check-imports", f"IMPORT_ROOT={root}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "compiler and switch share only the BMv2 JSON format" in result.stderr
    # ... and `make lint` runs that very check.
    dry = subprocess.run(
        ["make", "-n", "-C", str(repo_root), "lint"], capture_output=True, text=True, check=True
    )
    assert "check_imports.py" in dry.stdout
