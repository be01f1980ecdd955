"""What the command tells people on stderr, with user text escaped.

File contents, column names, paths and arguments end up in messages. Printed raw, an escape
sequence among them could clear the screen, retitle the window or hide text, and a line break
could fake a message; so every non-printable character is shown as Python writes it in a
string literal (`\\x1b`, `\\n`, `\\u202e`). The output rows are data and stay exact: only
stderr goes through here.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable

NAME_CHARS = 60  # of one quoted name in a message
NAMES_SHOWN = 10  # names listed before "... (N columns)"


def shown(text: str) -> str:
    """`text` with each non-printable character (controls, format characters such as
    right-to-left overrides, line breaks, lone surrogates) escaped as in a Python literal."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def quoted(name: str, limit: int = NAME_CHARS) -> str:
    """A name from the input or the arguments in quotes, cut to `limit` characters."""
    cut = name if len(name) <= limit else name[:limit] + "..."
    return repr(cut)


def listed(names: Iterable[str]) -> str:
    """Column names for a message: the first few, quoted, then how many there are."""
    names = list(names)
    head = ", ".join(quoted(name) for name in names[:NAMES_SHOWN])
    return head if len(names) <= NAMES_SHOWN else f"{head}, ... ({len(names)} columns)"


def say(message: str) -> None:
    """One message on stderr, escaped, on one line (above the progress bar, if one is shown)."""
    bars = sys.modules.get("tqdm")  # imported only when a bar may be shown
    above = bars.tqdm.external_write_mode(file=sys.stderr) if bars else contextlib.nullcontext()
    with above:
        print(shown(message), file=sys.stderr, flush=True)
