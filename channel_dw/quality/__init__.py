"""Data-quality checks: the Great Expectations suites in ``expectations/`` run on each loaded file.

Import :mod:`channel_dw.quality.checks` where the checks run (it imports Great Expectations, which
takes seconds); this package itself imports nothing.
"""
