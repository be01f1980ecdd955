"""What the command tells people on stderr, with user text escaped.

File contents, column names, paths and arguments end up in messages. Printed raw, an escape
sequence among them could clear the screen, retitle the window or hide text, and a line break
could fake a message; so every non-printable character is shown as Python writes it in a
string literal (`\\x1b`, `\\n`, `\\u202e`). The output rows are data and stay exact: only
stderr goes through here.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO

from imdb_sentiment.core.errors import one_line

NAME_CHARS = 60  # of one quoted name in a message
NAMES_SHOWN = 10  # names listed before "... (N columns)"


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
    """One message on stderr, escaped, on one line (above the progress line, if one is shown).
    When nobody reads stderr any more, messages are dropped; the results go on."""
    try:
        with ProgressLine.set_aside():
            print(one_line(message), file=sys.stderr, flush=True)
    except OSError:
        silence(sys.stderr)


def silence(stream: TextIO | None) -> None:
    """Point a standard stream's descriptor at /dev/null: its reader went away, and what is
    still buffered for it (flushed again at exit) must not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # type: ignore[union-attr]
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real descriptor (an embedding, a test)
        pass


def on_terminal() -> bool:
    """Whether stderr is a terminal (progress is shown only there, not in logs)."""
    return _is_terminal(sys.stderr)


def stdout_on_terminal() -> bool:
    """Whether stdout is a terminal (rows printed there are escaped, and show progress)."""
    return _is_terminal(sys.stdout)


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced
        return False


class ProgressLine:
    """One line on a terminal's stderr that redraws itself ("predict: 42% of 3.1 MB"), from
    `delay` seconds on and at most once a second; `say` prints messages above it."""

    shown: ProgressLine | None = None  # the line on the screen now, if any

    def __init__(self, label: str, total: int, delay: float = 1.0) -> None:
        self.label, self.total, self.done = label, total, 0
        self.drawn_at = time.monotonic() + delay - 1.0  # as if drawn a second before `delay`
        self.text = ""

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if now - self.drawn_at >= 1.0:
            self.drawn_at = now
            self._draw(self.state())

    def state(self) -> str:
        percent = 100 * self.done // max(self.total, 1)
        return f"{self.label}: {percent}% of {self.total / 1e6:.1f} MB"

    def close(self, keep: bool) -> None:
        """Leave the line with the final state (`keep`), or erase it. A line never shown
        (a quick run) stays unshown."""
        if ProgressLine.shown is self:
            if keep:
                self._draw(self.state())
                sys.stderr.write("\n")
            else:
                self._erase()
            ProgressLine.shown = None

    def _draw(self, text: str) -> None:
        if ProgressLine.shown is self:
            self._erase()
        self.text = text
        sys.stderr.write(text)
        sys.stderr.flush()
        ProgressLine.shown = self

    def _erase(self) -> None:
        sys.stderr.write("\r" + " " * len(self.text) + "\r")

    @classmethod
    @contextlib.contextmanager
    def set_aside(cls) -> Iterator[None]:
        """Erase the line shown (if any) for the block, then draw it again."""
        line = cls.shown
        if line is None:
            yield
            return
        line._erase()
        cls.shown = None
        try:
            yield
        finally:
            line._draw(line.text)
