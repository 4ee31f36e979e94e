"""The three kbflow flows (ingestion, reindex, human review), authored in Python, compiled to ASL."""
