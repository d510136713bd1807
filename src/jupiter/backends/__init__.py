"""Where agents run: one module a backend (local processes, hand-started hosts, Kubernetes)."""
