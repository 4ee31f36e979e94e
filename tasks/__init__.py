"""Task Lambda handlers for the kbflow flows, thin over pure functions; adapters are local or AWS."""
