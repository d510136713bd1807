"""Jupiter: profile, map and stream DAG applications across dispersed compute nodes."""

__version__ = "0.1.0"
