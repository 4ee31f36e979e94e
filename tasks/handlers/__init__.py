"""Lambda handlers: thin wrappers that parse, delegate to pure functions and map errors."""
