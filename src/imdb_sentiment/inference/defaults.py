"""The defaults every way of using the model shares: where P(positive) turns into "positive",
and how many texts one model call scores. Free of TensorFlow, so the command line's parser
can read them without loading it. (The evaluate stage takes its own from params.yaml.)"""

DECISION_THRESHOLD = 0.5
SCORING_BATCH_SIZE = 256
