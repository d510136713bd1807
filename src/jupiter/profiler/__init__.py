"""Jupiter profiler package."""
