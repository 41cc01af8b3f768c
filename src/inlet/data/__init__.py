"""Data sets, the ingest pipeline and the deduplicators; queries over device data."""
