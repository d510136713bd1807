"""Jupiter agent package."""
