"""Reading a user's spec file, with failures as one SpecError line naming it."""

from __future__ import annotations

from pathlib import Path

from jupiter.errors import SpecError


def read_spec_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(str(path), None, f"cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise SpecError(str(path), None, "not a UTF-8 text file") from None
