"""Benchmarks behind ``optjax bench``: update step, training throughput, convergence suite.

Nothing here is a test and nothing asserts a time. Run ``optjax bench --help``;
results and how to reproduce them are in ``benchmarks/README.md``.
"""
