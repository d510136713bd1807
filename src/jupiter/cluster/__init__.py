"""Jupiter cluster package."""
