"""The three kbflow flows (ingestion, reindex, human review), authored in Python, built to ASL.

``kbflow.workflows.asl`` and ``kbflow.workflows.asl_map`` are the typed extensions of the
``stepfunctions`` SDK; ``ingestion``, ``reindex`` and ``human_review`` each have ``build()``
and ``INPUT_SCHEMA``; ``kbflow.workflows.build`` writes ``definitions/`` (``kbflow build``).
"""
