"""Jupiter controller package."""
