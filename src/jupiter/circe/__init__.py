"""Jupiter circe package."""
