"""Jupiter report package."""
