"""kbflow package."""
