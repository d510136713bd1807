"""Jupiter app package."""
