"""The `imdb-sentiment` entry point: parse, run the command, turn every failure into a status.

Bad input, a broken model and operating-system errors (a full disk, no permission, a
directory where a file should be) are one escaped line on stderr and status 2; a reader of
stdout that goes away (`| head`) ends the run quietly with status 1; Ctrl-C is status 130.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from imdb_sentiment.core import locations
from imdb_sentiment.core.errors import EXIT_BAD_INPUT, PipelineError
from imdb_sentiment.inference.cli.command import (
    EXIT_SOME_FAILED,
    Terminated,
    predict,
    stop_message,
)
from imdb_sentiment.inference.cli.parser import build_parser, check_arguments
from imdb_sentiment.inference.cli.terminal import say, silence


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv`: returns the exit status, or raises SystemExit(2) after
    one line on stderr, as every main of the project does for bad input."""
    args = build_parser().parse_args(argv)
    try:
        if args.model is None:
            args.model = str(locations.default_model())
        check_arguments(args)
        return predict(args)
    except PipelineError as err:
        say(f"error: {err}")
    except BrokenPipeError:  # the reader of stdout went away (`| head`)
        silence(sys.stdout)
        return EXIT_SOME_FAILED
    except OSError as err:  # one the command did not foresee: still one line, no traceback
        where = f": {err.filename}" if err.filename else ""
        say(f"error: {err.strerror or err}{where}")
    raise SystemExit(EXIT_BAD_INPUT)


def raise_terminated(signum: int, frame: object) -> None:
    """SIGTERM's handler: stop as Ctrl-C does (the default would kill the process with an
    --output temporary left behind)."""
    raise Terminated


def reopen_closed_streams() -> None:
    """Point a closed stdout or stderr (`>&-`, `2>&-`) at /dev/null, so that no file the
    command opens takes its number and receives what was meant for it. Messages for a
    closed stderr are dropped; a closed stdout stays None to Python, so results meant for
    it are refused (use --output)."""
    for fd in (1, 2):
        try:
            os.fstat(fd)
        except OSError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")


def run() -> None:
    """The `imdb-sentiment` command: `main`, then the exit status.

    Once TensorFlow is loaded, the interpreter's own shutdown spends most of a second
    tearing it down (docs/lab/decisions.md); every output is written and closed by then,
    so the streams are flushed and the process leaves at once.
    """
    reopen_closed_streams()
    signal.signal(signal.SIGTERM, raise_terminated)
    code: int | str | None
    try:
        code = main()
    except SystemExit as stop:
        code = stop.code
    except KeyboardInterrupt as stop:  # before the command started: nothing was written
        what, code = stop_message(stop)
        say(f"{what}: nothing written")
    if "tensorflow" not in sys.modules:
        sys.exit(code)
    if isinstance(code, str):
        say(code)
    status = code if isinstance(code, int) else int(code is not None)
    try:
        if sys.stdout is not None:  # None when started with stdout closed
            sys.stdout.flush()
    except BrokenPipeError:
        status = status or EXIT_SOME_FAILED
    with contextlib.suppress(OSError):  # messages for a gone reader are lost, not fatal
        sys.stderr.flush()
    os._exit(status)
