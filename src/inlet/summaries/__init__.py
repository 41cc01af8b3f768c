"""Stored glucose summaries (cgm, bgm, con) kept current from hourly buckets, the clinic patient list
built on them, and the TIDE report."""
