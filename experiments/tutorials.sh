#!/usr/bin/env bash
# Queue the five seed-tutorial configurations as named DVC experiments, next to
# the project's default, then run the queue:
#   bash experiments/tutorials.sh            # queue + run (one worker)
#   bash experiments/tutorials.sh --queue    # queue only; run later with `dvc queue start`
# Compare: dvc exp show --md --drop 'ingest.*|evaluate.*' --sort-by metrics/eval.json:accuracy
# Tutorial settings the zoo does not need to change keep the project's defaults
# (movie-disjoint 20% validation, masking of padding); validation is held out, as in the
# tutorials, not learned as in the project's final fit. The pipeline never stops early, so
# tut1, which stops early in its tutorial, runs the 6 epochs its early stopping kept when
# the pipeline still had it (docs/lab/decisions.md).
set -euo pipefail
# The tutorials train embeddings from scratch, on labels only, without dropout or adversarial
# training, with no word-pair vectors and no convolution before the recurrence, on the last state;
# Keras' pad_sequences, which the tutorials use, keeps the last tokens of a long review.
tutorial=(-S preprocess.pretrain_dim=0 -S train.pretrained_embeddings=false -S preprocess.keep_tokens=last
          -S train.dropout=0 -S train.embedding_dropout=0 -S train.pooling=last
          -S train.bidirectional=false -S train.dense_units=[] -S train.distill_unlabeled=false
          -S train.adversarial_epsilon=0 -S train.conv_filters=0 -S train.word_pair_buckets=0
          -S train.fit_on_validation=false)

dvc exp run --queue -n tut4-simplernn32-dense16 "${tutorial[@]}" -S train.epochs=5 \
  -S preprocess.vocab_size=10000 -S preprocess.max_len=100 -S train.embedding_dim=32 \
  -S train.model=simple_rnn -S train.units=[32] -S train.activation=relu \
  -S train.dense_units=[16] -S train.dropout=0.5 -S train.batch_size=64

dvc exp run --queue -n tut3-lstm60 "${tutorial[@]}" -S train.epochs=5 \
  -S preprocess.vocab_size=20000 -S preprocess.max_len=100 -S train.embedding_dim=128 \
  -S train.model=lstm -S train.units=[60] -S train.batch_size=128

dvc exp run --queue -n tut2-lstm64 "${tutorial[@]}" -S train.epochs=5 \
  -S preprocess.vocab_size=10000 -S preprocess.max_len=200 -S train.embedding_dim=64 \
  -S train.model=lstm -S train.units=[64] -S train.batch_size=64

dvc exp run --queue -n tut5-stacked-bilstm "${tutorial[@]}" -S train.epochs=5 \
  -S preprocess.vocab_size=10000 -S train.embedding_dim=64 -S train.model=lstm \
  -S train.bidirectional=true -S train.units=[64,32] -S train.dense_units=[64] -S train.batch_size=32

dvc exp run --queue -n tut1-simplernn128 "${tutorial[@]}" \
  -S preprocess.vocab_size=10000 -S preprocess.max_len=500 -S train.embedding_dim=128 \
  -S train.model=simple_rnn -S train.units=[128] -S train.activation=relu \
  -S train.batch_size=32 -S train.epochs=6

if [[ "${1:-}" != "--queue" ]]; then
  dvc queue start -j 1
  # `dvc queue start` returns at once; wait until nothing is queued or running
  while [[ "$(dvc queue status)" =~ Queued|Running ]]; do sleep 30; done
  dvc queue status
fi
