"""A stand-in for the model in command-line tests: no TensorFlow, so each call takes milliseconds.

Holds no tests. `fake_scorer(monkeypatch)` makes in-process `cli.main` calls score with
`fake_probability`; `fake_command()` is the argv of a real `imdb-sentiment` process that
does the same (for pipes, FIFOs, signals and memory). Both read, write and check exactly as
the real command does: only loading the model and scoring are replaced.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class FakeScored:
    """What labelling.Scored holds: a label and P(positive), or why the text failed."""

    label: str | None = None
    probability: float | None = None
    error: str | None = None


def fake_probability(text: str) -> float:
    """A probability that depends on the whole text, so rows mixed up show."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % 1001 / 1000


def fake_scores(
    texts: list[str], threshold: float = 0.5, override: float | None = None
) -> list[FakeScored]:
    """Empty and blank texts fail, as labelling.score_texts fails them; `override` is a
    broken model's output for every text."""
    results = []
    for text in texts:
        if not text.strip():
            results.append(FakeScored(error="empty review (no text to classify)"))
            continue
        p = fake_probability(text) if override is None else override
        label = "positive" if (p >= threshold if not math.isnan(p) else False) else "negative"
        results.append(FakeScored(label, p))
    return results


def fake_scorer(monkeypatch, override: float | None = None, calls: list | None = None) -> None:
    """Make the command score with `fake_scores` (each call's texts appended to `calls`)."""
    from imdb_sentiment.inference.cli import command

    def load_scorer(args):
        def score(texts: list[str]) -> list[FakeScored]:
            if calls is not None:
                calls.append(list(texts))
            return fake_scores(list(texts), args.threshold, override)

        return score

    monkeypatch.setattr(command, "load_scorer", load_scorer)


def model_file(folder: Path) -> str:
    """A file for --model to name: the fake never opens it."""
    path = folder / "fake.keras"
    path.write_bytes(b"")
    return str(path)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """cli.main in-process: (exit status, stdout, stderr)."""
    from imdb_sentiment.inference import cli

    try:
        code = cli.main(list(args))
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def set_stdin(monkeypatch, data: bytes) -> io.BytesIO:
    """stdin reads `data`; returns its byte stream (its position tells what was read)."""
    raw = io.BytesIO(data)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw, encoding="utf-8"))
    return raw


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


FAKE_MAIN = (
    f"import sys; sys.path.insert(0, {str(TESTS)!r}); import cli_fakes; "
    "cli_fakes.fake_process_main()"
)


def fake_command(*args: str, override: float | None = None) -> list[str]:
    """argv of an `imdb-sentiment` process scoring with the stand-in."""
    extra = [] if override is None else [f"--fake-override={override}"]
    return [sys.executable, "-c", FAKE_MAIN, *extra, *args]


def fake_process_main() -> None:
    """`cli.run()` with the stand-in scorer (a process started by `fake_command`)."""
    from imdb_sentiment.inference import cli
    from imdb_sentiment.inference.cli import command

    override = None
    if len(sys.argv) > 1 and sys.argv[1].startswith("--fake-override="):
        override = float(sys.argv.pop(1).split("=", 1)[1])
    sys.argv[0] = "imdb-sentiment"

    def load_scorer(args):
        return lambda texts: fake_scores(list(texts), args.threshold, override)

    command.load_scorer = load_scorer
    cli.run()
