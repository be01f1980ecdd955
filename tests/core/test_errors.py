"""One line for every error, with user text shown as text."""

from __future__ import annotations

import pytest

from imdb_sentiment.core.errors import PipelineError, exit_on_error, one_line


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text, café", "plain text, café"),
        ("two\nlines\r", "two\\nlines\\r"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("right\u202eto left", "right\\u202eto left"),
        ("c1\x9bcontrol\x7f", "c1\\x9bcontrol\\x7f"),
        ("lone \udc80 surrogate", "lone \\udc80 surrogate"),
    ],
)
def test_one_line_shows_every_non_printable_character_escaped(text, shown):
    assert one_line(text) == shown


def test_a_stage_error_naming_user_text_reaches_the_terminal_escaped(capsys):
    @exit_on_error
    def main() -> None:
        raise PipelineError("file not found: x\x1b[31mRED\u202e.tar.gz")

    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith("file not found: x\\x1b[31mRED\\u202e.tar.gz\n")
    assert "\x1b" not in err and "\u202e" not in err
