"""Workflow DAGs from recorded traces (WfCommons), independent of nodes and mapping."""
