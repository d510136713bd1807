"""The run token shared by a home and agents started by hand: kept in a file only its owner
can read, never on a command line (where `ps` shows it to everyone)."""

from __future__ import annotations

import os
from pathlib import Path

from jupiter.agent.auth import new_token
from jupiter.errors import SpecError

MAX_TOKEN_FILE_BYTES = 4096


def read_token_file(path: Path, option: str = "--token-file") -> str:
    try:
        if not path.is_file():
            raise SpecError(path, option, "not a regular file")
        if path.stat().st_size > MAX_TOKEN_FILE_BYTES:
            raise SpecError(path, option, f"larger than {MAX_TOKEN_FILE_BYTES} bytes")
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(path, option, f"cannot read the token: {error}") from None
    if not token or any(not (33 <= ord(c) < 127) for c in token):
        raise SpecError(path, option, "the token must be one line of printable ASCII")
    return token


def create_token_file(path: Path) -> str:
    """A new token, written where only this user can read it; an existing file is kept."""
    token = new_token()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token_file(path)
    except OSError as error:
        raise SpecError(path, "--token-file", f"cannot create: {error.strerror}") from None
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token
