"""Apps and addresses for driving ExecutorState directly, shared by the state tests."""

from __future__ import annotations

from jupiter.app.spec import App

ADDRESSES = {"home": "http://home", "n0": "http://n0", "n1": "http://n1", "n2": "http://n2"}


def make_app(
    parents: dict[str, list[str]], feeds: dict[str, list[str]], exits: list[str] | None = None
) -> App:
    doc: dict[str, object] = {
        "name": "test",
        "sources": [{"name": s, "feeds": fed, "inputs": ["in/*"]} for s, fed in feeds.items()],
        "tasks": {t: {"python": f"tasks.py:{t}", "parents": p} for t, p in parents.items()},
    }
    if exits is not None:
        doc["exits"] = exits
    return App.from_dict(doc, "/nonexistent")
