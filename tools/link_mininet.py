"""Make Debian's Mininet package importable inside the project's virtual environment.

Mininet's Python package comes from Debian (``/usr/lib/python3/dist-packages``),
which a venv does not see. Exposing the whole dist-packages folder would let
Debian's other packages shadow the venv's pinned ones, so this writes a ``.pth``
file naming a folder that holds only a symlink to ``mininet``.

Run by ``make install``; idempotent. Usage: ``python tools/link_mininet.py``.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

DEBIAN_MININET = Path("/usr/lib/python3/dist-packages/mininet")


def main() -> int:
    if not DEBIAN_MININET.is_dir():
        print(
            f"link_mininet: {DEBIAN_MININET} not found (apt-get install mininet)", file=sys.stderr
        )
        return 1
    venv = Path(sys.prefix)
    folder = venv / "debian-mininet"
    folder.mkdir(exist_ok=True)
    link = folder / "mininet"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(DEBIAN_MININET)
    pth = Path(sysconfig.get_paths()["purelib"]) / "debian_mininet.pth"
    pth.write_text(f"{folder}\n", encoding="utf-8")
    print(f"mininet visible in {venv} through {pth.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
