"""Process start-up: a quiet TensorFlow whatever state the caller's stderr is in."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = (
    "from imdb_sentiment.core import startup\n"
    "with startup.quiet_tensorflow():\n"
    "    pass\n"
    "print('done')\n"
)


def test_a_quiet_block_in_a_process_whose_stderr_is_closed():
    """`python ... 2>&-`: Python starts with sys.stderr None and fd 2 closed."""
    done = subprocess.run(
        [sys.executable, "-c", CODE],
        preexec_fn=lambda: os.close(2),
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0 and done.stdout == "done\n"
