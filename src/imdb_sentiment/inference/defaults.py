"""The defaults every way of using the model shares, the evaluate stage included: where
P(positive) turns into "positive", and how many texts one model call scores. Free of
TensorFlow, so the command line's parser can read them without loading it."""

DECISION_THRESHOLD = 0.5
SCORING_BATCH_SIZE = 256
