"""The pipeline's stages, one module each; `python -m imdb_sentiment.pipeline NAME` runs one."""
