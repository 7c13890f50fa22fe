"""Benchmarks of the cnn-suite: accuracy for CPU time on every dataset, and pipeline overhead.

Run ``make bench`` (all) or ``python -m benchmarks gtsrb ahe`` (some); see ``README.md`` here.
"""
