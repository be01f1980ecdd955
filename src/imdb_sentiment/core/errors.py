"""One error type for bad input, reported as a single line by every command; and the
checks of public functions' arguments, declared as one constraint per argument.

    check_arguments({"batch_size": interval(int, low=1), "model": (KERAS_MODEL, NONE)},
                    batch_size=batch_size, model=model)

raises ArgumentError("batch_size=-1: must be an integer >= 1"): the argument named as
the caller wrote it.
"""

from __future__ import annotations

import functools
import math
import numbers
import reprlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, TypeVar

T = TypeVar("T")

EXIT_BAD_INPUT = 2


class PipelineError(Exception):
    """Bad input (params, archive, data, model file): the message says what and where."""


class WriteError(PipelineError):
    """An output could not be written (a full disk, a read-only place): the message names it."""


class ArgumentError(PipelineError, TypeError, ValueError):
    """An argument of a public function has the wrong type or value. Both a TypeError and
    a ValueError, so callers catching either catch it."""


@dataclass(frozen=True)
class Constraint:
    """What an argument may be: an instance of `types` (a bool only if bool is one of
    them) in which `check` finds no problem. `text` says what that is, in errors."""

    types: tuple[type, ...]
    text: str
    check: Callable[[Any], str | None] = lambda value: None  # the problem, or None

    def accepts_type(self, value: Any) -> bool:
        if isinstance(value, bool) and bool not in self.types:
            return False
        return isinstance(value, self.types)


NONE = Constraint((type(None),), "None")


def interval(kind: type, low: float | None = None, high: float | None = None) -> Constraint:
    """An int (`kind` int) or finite number (`kind` float) in [low, high]; None is unbounded."""
    integer = kind is int
    noun = "an integer" if integer else "a number"
    bounds = (
        f" in [{low}, {high}]"
        if low is not None and high is not None
        else f" >= {low}"
        if low is not None
        else f" <= {high}"
        if high is not None
        else ""
    )

    def check(value: Any) -> str | None:
        inside = (
            (integer or math.isfinite(value))
            and (low is None or value >= low)
            and (high is None or value <= high)
        )
        return None if inside else f"must be {noun}{bounds}"

    return Constraint((numbers.Integral,) if integer else (numbers.Real,), noun + bounds, check)


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlevel = 3
MAX_SHOWN = 200


def shown(value: Any) -> str:
    """A short repr for messages (a path as its string), on one line even where the value's
    own repr spans several (a DataFrame), even of a value nested a billion items deep (a YAML
    alias bomb)."""
    text = one_line(_SHORT.repr(str(value) if isinstance(value, PurePath) else value))
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def check_arguments(
    constraints: dict[str, Constraint | tuple[Constraint, ...]], **values: Any
) -> None:
    """Raise ArgumentError naming the first argument that fits none of its constraints;
    when its type fits one, that one's problem is the reason given."""
    for name, allowed in constraints.items():
        allowed = allowed if isinstance(allowed, tuple) else (allowed,)
        value = values[name]
        problems = [c.check(value) for c in allowed if c.accepts_type(value)]
        if None in problems:
            continue
        reason = problems[0] if problems else "must be " + " or ".join(c.text for c in allowed)
        raise ArgumentError(f"{name}={shown(value)}: {reason}")


def one_line(message: str) -> str:
    """The message on one line, as text: every non-printable character (line breaks,
    controls and escape sequences, format characters such as right-to-left overrides, lone
    surrogates) from a user-supplied name or value shown escaped as in a Python literal."""
    if message.isprintable():
        return message
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in message)


def os_error_reason(err: OSError) -> str:
    """'No space left on device', or what an error without an errno says."""
    return err.strerror or " ".join(str(err).split()) or type(err).__name__


def os_error_text(err: OSError) -> str:
    """'PATH: No space left on device', or only the reason when it names no path."""
    names = [str(name) for name in (err.filename, err.filename2) if name is not None]
    return f"{' -> '.join(names)}: {os_error_reason(err)}" if names else os_error_reason(err)


def exit_on_error(main: Callable[..., T]) -> Callable[..., T]:
    """Turn a PipelineError, or an operating-system error (a full disk, a read-only or
    forbidden place), into one line on stderr and exit status 2. An OSError's line names
    the stage: `error: ingest: cannot write data/...: No space left on device`."""
    module = main.__module__.rsplit(".", 1)[-1]
    stage = module if module != "__main__" else PurePath(sys.argv[0]).stem

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except WriteError as err:
            print(f"error: {stage}: {one_line(str(err))}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_INPUT) from None
        except PipelineError as err:
            print(f"error: {one_line(str(err))}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_INPUT) from None
        except OSError as err:
            print(f"error: {stage}: {one_line(os_error_text(err))}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_INPUT) from None

    return wrapper
