"""`python -m imdb_sentiment.inference.cli`: the `imdb-sentiment` command."""

from imdb_sentiment.inference.cli.main import run

run()
