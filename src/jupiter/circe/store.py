"""Where an agent keeps data: one file per (input id, producer), shared by every local child."""

from __future__ import annotations

import shutil
from pathlib import Path


class DataStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, input_id: int, producer: str) -> Path:
        return self.root / str(input_id) / producer

    def forget(self, input_id: int) -> None:
        shutil.rmtree(self.root / str(input_id), ignore_errors=True)

    def size(self) -> int:
        """Bytes held, over every input."""
        return sum(entry.stat().st_size for entry in self.root.glob("*/*") if entry.is_file())
