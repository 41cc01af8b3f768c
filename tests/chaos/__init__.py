"""The chaos test of issue 12 (``tests/chaos/run.py``); ``python -m tests.chaos --minutes N``."""
