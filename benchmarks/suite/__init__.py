"""The benchmarks that benchmarks/bench.py runs: one module per family (training against the
tutorial way and where an epoch goes, settings, the reproducibility pins, the stages and
ingest, scoring and the cold command line), the harness that measures them in fresh
processes, and the tables they print."""
