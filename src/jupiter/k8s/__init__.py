"""The Kubernetes backend: manifests, images, deploy/teardown with lightkube, node discovery.

Only `deploy`, `discover`, `client` and the CLI's `nodes` command need lightkube (the
optional extra `jupiter-dispersed[k8s]`); the in-pod entry points and the renderer need only
Jupiter's own dependencies, so the agent image carries no Kubernetes client.
"""
