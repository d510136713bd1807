"""Experiments: whole runs repeated over a parameter, timed, tabulated (Table 1 of the paper)."""
