"""Jupiter mapper package."""
