"""Reading a user's spec file, with failures as one SpecError line naming it.

A spec is a regular file (a FIFO would hang the read, /dev/zero would never end), at most
`max_bytes` long, UTF-8, and free of control characters other than tab and newline: a NUL or
an escape in a YAML file is a mistake, and the YAML reader would answer it with a traceback.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from jupiter.errors import SpecError

MAX_SPEC_BYTES = 16 * 1024**2
# Saved profiles and reports are written by Jupiter and grow with the cluster and the stream.
MAX_DOCUMENT_BYTES = 1024**3
# Containers nested deeper than this are refused before any parser recurses into them.
MAX_NESTING = 64

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_OPENERS = re.compile(r"[\[{]")


def read_spec_text(path: str | Path, max_bytes: int = MAX_SPEC_BYTES) -> str:
    where = str(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not wait for one.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise SpecError(where, None, f"cannot read: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SpecError(where, None, f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            raise SpecError(where, None, f"{info.st_size} bytes, over the {max_bytes}-byte limit")
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(max_bytes + 1)
    except OSError as error:
        raise SpecError(where, None, f"cannot read: {error.strerror or error}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise SpecError(where, None, f"over the {max_bytes}-byte limit")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(where, None, "not a UTF-8 text file") from None
    check_spec_text(text, where)
    return text


def check_spec_text(text: str, where: str) -> None:
    """Control characters and runaway nesting, named by line and column."""
    found = _CONTROL.search(text)
    if found is not None:
        line, column = _position(text, found.start())
        raise SpecError(
            where,
            f"line {line}, column {column}",
            f"control character {found.group()!r} (only tab and newline belong in a spec)",
        )
    depth = _flow_depth(text)
    if depth > MAX_NESTING:
        raise SpecError(where, None, f"nested more than {MAX_NESTING} levels deep")


def _flow_depth(text: str) -> int:
    """The deepest run of [ and { (an upper bound: brackets inside strings count too)."""
    if len(_OPENERS.findall(text)) <= MAX_NESTING:
        return 0
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a file"
