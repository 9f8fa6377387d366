"""Check that imports follow the one-way layers of DESIGN.md.

Every ``import`` and ``from ... import`` in the project's packages (found by
parsing, so nothing is executed) is checked against the contracts below. A
contract says which module prefixes a layer must not import. Relative imports
are resolved first; imports inside ``if TYPE_CHECKING:`` count as well, because
a type-only dependency still couples the layers.

Usage: ``python tools/check_imports.py [--root DIR]``; exit 1 with one line per
violation (``file:line: layer 'a' must not import 'b' (reason)``), 0 when clean.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("p4lite", "controller", "nodes", "topologies", "traffic")


@dataclass(frozen=True, slots=True)
class Contract:
    """Modules under ``layer`` must not import any module under ``forbidden``."""

    layer: str
    forbidden: tuple[str, ...]
    reason: str


CONTRACTS: tuple[Contract, ...] = (
    Contract(
        "p4lite",
        ("controller", "nodes", "topologies", "traffic"),
        "p4lite is the embedded toolchain; it knows nothing of the testbed",
    ),
    Contract(
        "p4lite.compiler",
        ("p4lite.switch", "grpc", "scapy"),
        "compiler and switch share only the BMv2 JSON format",
    ),
    Contract("p4lite.switch", ("p4lite.compiler",), "compiler and switch share no code"),
    Contract(
        "p4lite.switch.core",
        ("p4lite.switch.server", "p4lite.switch.ports", "grpc", "p4", "google", "scapy"),
        "the switch core does no I/O and serves no gRPC",
    ),
    Contract(
        "controller.models",
        (
            "controller.p4rt",
            "controller.entries",
            "controller.steering",
            "controller.telemetry",
            "controller.cli",
            "grpc",
            "p4",
            "p4lite",
        ),
        "models are pure ML: data sets, training, quantization, files",
    ),
    Contract(
        "controller.entries",
        (
            "controller.p4rt",
            "controller.steering",
            "controller.telemetry",
            "controller.cli",
            "grpc",
            "p4lite",
        ),
        "entries are pure: model + P4Info -> entries, no gRPC",
    ),
    Contract(
        "controller.p4rt",
        (
            "controller.models",
            "controller.entries",
            "controller.steering",
            "controller.telemetry",
            "controller.cli",
            "p4lite",
            "numpy",
            "sklearn",
        ),
        "the P4Runtime client knows nothing of models",
    ),
    Contract(
        "controller.steering",
        ("controller.cli", "controller.telemetry"),
        "steering sits below telemetry and the CLI",
    ),
    Contract("controller.telemetry", ("controller.cli",), "telemetry sits below the CLI"),
    Contract(
        "controller", ("nodes", "topologies"), "the controller does not import nodes or testbed"
    ),
    Contract(
        "nodes", ("topologies", "controller.cli"), "nodes do not import the testbed or the CLI"
    ),
    Contract("traffic", ("topologies", "controller", "p4lite"), "traffic tools stand alone"),
)

# Nothing may import topologies except topologies itself.
NOBODY_IMPORTS = ("topologies",)


@dataclass(frozen=True, slots=True)
class Violation:
    """One import that breaks a contract."""

    path: Path
    line: int
    module: str
    imported: str
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: '{self.module}' must not import "
            f"'{self.imported}' ({self.reason})"
        )


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def module_name(root: Path, path: Path) -> str:
    """The dotted module name of ``path`` relative to ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: -(node.level - 1)]
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield node.lineno, target
            # `from pkg import sub` may import a submodule: check pkg.sub too.
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def check(root: Path) -> list[Violation]:
    """Every contract violation in the project rooted at ``root``."""
    found: list[Violation] = []
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            module = module_name(root, path)
            seen: set[tuple[int, str]] = set()
            for line, imported in imports(path, module):
                for contract in CONTRACTS:
                    if not _under(module, contract.layer):
                        continue
                    for bad in contract.forbidden:
                        if _under(imported, bad) and (line, bad) not in seen:
                            seen.add((line, bad))
                            found.append(Violation(path, line, module, imported, contract.reason))
                for protected in NOBODY_IMPORTS:
                    if (
                        _under(imported, protected)
                        and not _under(module, protected)
                        and (line, protected) not in seen
                    ):
                        seen.add((line, protected))
                        found.append(
                            Violation(path, line, module, imported, "nothing imports the testbed")
                        )
    return found


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="check the import direction of the layers")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    violations = check(args.root)
    for violation in violations:
        print(violation, file=sys.stderr)
    if violations:
        print(f"{len(violations)} import(s) against the layers of DESIGN.md", file=sys.stderr)
        return 1
    print("import directions: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
