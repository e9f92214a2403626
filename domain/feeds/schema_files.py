"""Each kind's JSON Schema as a file, shipped in the package beside this module
(``schemas/<kind>.schema.json``), so that an integrator validates records offline with
the very schema the API serves at ``/feeds/schemas/<kind>.schema.json``.

The files are written from the kinds' declarations, never by hand::

    python -m domain.feeds.schema_files

and a test fails when a committed file differs from what the code declares.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from domain.feeds.kind import Kind
from domain.feeds.kinds import KINDS

__all__ = ["SCHEMA_DIR", "file_name", "render", "write"]

SCHEMA_DIR = Path(__file__).parent / "schemas"


def file_name(kind: Kind) -> str:
    return f"{kind.name}.schema.json"


def render(kind: Kind) -> str:
    """The schema's text: indented, in declaration order, one trailing newline; what the
    API serves and what the file holds, byte for byte."""
    return json.dumps(kind.schema(), indent=2, ensure_ascii=False) + "\n"


def write(folder: Path = SCHEMA_DIR) -> list[Path]:
    """Writes every kind's file into ``folder`` and removes files of kinds that are gone;
    returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS.values():
        path = folder / file_name(kind)
        path.write_text(render(kind), encoding="utf-8")
        written.append(path)
    for stale in set(folder.glob("*.schema.json")) - set(written):
        stale.unlink()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else SCHEMA_DIR
    for path in write(folder):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
