"""Backends: where the Step Functions API calls of a :class:`kbflow.Client` go."""

from __future__ import annotations
