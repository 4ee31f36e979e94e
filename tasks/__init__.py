"""Task Lambda handlers for the kbflow flows, thin over pure functions; adapters local or AWS."""
