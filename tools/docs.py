"""Rewrite the generated blocks of the docs (README.md, docs/, models/) from committed results.

The files: README.md, docs/*.md, docs/lab/*.md and models/*.md.

A generated block is the text between two marker lines:

    <!-- generated:NAME -->
    ...rewritten by this script...
    <!-- /generated:NAME -->

NAME picks a generator in tools/docgen/ (`docgen.GENERATORS`), grouped there by the doc it
feeds. Every number in a block comes from the files the pipeline and the benchmark commit
(metrics/, models/model.params.json, benchmarks/results.json, metrics/seeds.json,
metrics/ceilings.json); a file that is absent gives a one-line note instead of a table.

Product docs (README.md, docs/*.md) say how things are now; the lab (docs/lab/) keeps the
history. So the experiment tables read params.yaml too: a tried setting whose change names a
key that params.yaml no longer has (its code was deleted) is marked "retired" in the lab's
tables and never appears in a product table.

    python tools/docs.py            # rewrite stale blocks in place
    python tools/docs.py --check    # exit 1 and list the stale blocks; writes nothing

Standard library only, so it runs without the project's environment. This file is the engine
(finding the blocks, rewriting or checking them); run as a script, its folder is on sys.path,
so the generators import as the package `docgen`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

from docgen import GENERATORS
from docgen.sources import Sources

ROOT = Path(__file__).resolve().parents[1]

BLOCK = re.compile(
    r"(?P<open><!-- generated:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)"
    r"(?P<close><!-- /generated:(?P=name) -->)",
    re.S,
)
OPENER = re.compile(r"<!-- generated:([a-z0-9-]+) -->")


class DocsError(Exception):
    """A marker problem or an unknown block name (the files need fixing by hand), or a root
    that holds no generated block."""


def markdown_files(root: Path) -> list[Path]:
    """The files that may hold generated blocks: README.md, docs/, docs/lab/, models/."""
    files = [root / "README.md"] if (root / "README.md").is_file() else []
    return (
        files
        + sorted((root / "docs").glob("*.md"))
        + sorted((root / "docs" / "lab").glob("*.md"))
        + sorted((root / "models").glob("*.md"))
    )


def render(text: str, src: Sources, where: str = "") -> tuple[str, list[str]]:
    """The text with every block regenerated, and the names of the blocks that changed."""
    closed = Counter(m.group("name") for m in BLOCK.finditer(text))
    for name, count in Counter(OPENER.findall(text)).items():
        if count != closed[name]:
            raise DocsError(
                f"{where}: a <!-- generated:{name} --> line has no matching "
                f"<!-- /generated:{name} --> line"
            )
    changed: list[str] = []

    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise DocsError(
                f"{where}: unknown generated block {name!r} "
                f"(known: {', '.join(sorted(GENERATORS))})"
            )
        body = GENERATORS[name](src).rstrip("\n") + "\n"
        if body != match.group("body"):
            changed.append(name)
        return match.group("open") + body + match.group("close")

    return BLOCK.sub(replace, text), changed


def stale_blocks(root: Path) -> dict[Path, tuple[str, list[str]]]:
    """Files whose generated blocks differ from what the result files give: new text, names."""
    src = Sources(root)
    out = {}
    blocks = 0
    for path in markdown_files(root):
        text = path.read_text(encoding="utf-8")
        blocks += len(OPENER.findall(text))
        new, changed = render(text, src, str(path.relative_to(root)))
        if changed:
            out[path] = (new, changed)
    if not blocks:  # a wrong --root would otherwise pass as "every block fresh"
        raise DocsError(
            f"{root}: no generated blocks in README.md, docs/, docs/lab/ or models/ "
            "(is it the repository's root?)"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when every block is fresh or rewritten, 1 when --check finds stale
    ones, 2 on a marker problem, a root without generated blocks or a result file the
    generators cannot read."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="list stale blocks and exit 1 if any; write nothing"
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="repository root (default: this one)"
    )
    args = parser.parse_args(argv)
    try:
        stale = stale_blocks(args.root)
    except (DocsError, KeyError, ValueError) as err:
        print(
            f"docs: error: {type(err).__name__ + ': ' if not isinstance(err, DocsError) else ''}{err}",
            file=sys.stderr,
        )
        return 2
    for path, (new, names) in stale.items():
        rel = path.relative_to(args.root)
        if args.check:
            for name in names:
                print(f"stale: {rel} [{name}]")
        else:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {rel}: {', '.join(names)}")
    if args.check and stale:
        print(
            "docs: generated blocks are stale; run `make docs` (python tools/docs.py)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
