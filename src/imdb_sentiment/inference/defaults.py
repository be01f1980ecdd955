"""The defaults every way of using the model shares, the evaluate stage included: where
P(positive) turns into "positive", to how many decimals it is shown (and compared with the
threshold, so a label never contradicts its number), and how many texts one model call
scores. Free of TensorFlow, so the command line's parser can read them without loading it."""

DECISION_THRESHOLD = 0.5
SCORING_BATCH_SIZE = 256
PROBABILITY_DECIMALS = 6
