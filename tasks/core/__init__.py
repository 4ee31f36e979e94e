"""Pure functions behind the task handlers (no AWS, no Lambda context)."""
