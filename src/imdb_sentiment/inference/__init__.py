"""Ways to use a trained model: scoring, labels and explanations, the Python API, the CLI, the web app."""
