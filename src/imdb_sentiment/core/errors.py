"""One error type for bad input, reported as a single line by every command."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

EXIT_BAD_INPUT = 2


class PipelineError(Exception):
    """Bad input (params, archive, data, model file): the message says what and where."""


def one_line(message: str) -> str:
    """The message on one line: line breaks from user-supplied names shown escaped."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def exit_on_error(main: Callable[..., T]) -> Callable[..., T]:
    """Turn a PipelineError into one line on stderr and exit status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except PipelineError as err:
            print(f"error: {one_line(str(err))}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_INPUT) from None

    return wrapper
