"""Jupiter workflows package."""
