"""Where agents run: one module a backend, each exporting `BACKEND`, a class implementing
`jupiter.controller.backend.Backend`. Adding a backend is adding one file here."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache


@cache
def backend_classes() -> dict[str, type]:
    """Every backend in this package, by the name users pick it with."""
    found: dict[str, type] = {}
    for module in pkgutil.iter_modules(__path__):
        backend = getattr(importlib.import_module(f"{__name__}.{module.name}"), "BACKEND", None)
        if backend is not None:
            found[backend.name] = backend
    return found


def backend_names() -> list[str]:
    return sorted(backend_classes())
