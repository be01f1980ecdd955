"""The data the stages pass along: the archive and its layout, the reviews table, the processed splits, word vectors."""
