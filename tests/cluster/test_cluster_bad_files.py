"""A cluster file that is not a small regular text file ends in one line, at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jupiter.cluster.spec import load_cluster
from jupiter.errors import SpecError
from jupiter.specfile import MAX_SPEC_BYTES


def refused(path: Path | str) -> str:
    with pytest.raises(SpecError) as caught:
        load_cluster(path)
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "cluster.yaml"
    os.mkfifo(fifo)
    assert refused(fifo) == f"{fifo}: not a regular file (a FIFO)"


def test_a_device_is_refused_without_reading_it() -> None:
    assert refused("/dev/zero") == "/dev/zero: not a regular file (a character device)"


def test_a_huge_file_is_refused_by_its_size(tmp_path: Path) -> None:
    big = tmp_path / "cluster.yaml"
    with big.open("wb") as sparse:
        sparse.truncate(10 * 1024**3)  # 10 GB of holes: nothing is written or read
    assert refused(big) == f"{big}: {10 * 1024**3} bytes, over the {MAX_SPEC_BYTES}-byte limit"


def test_a_folder_is_refused(tmp_path: Path) -> None:
    assert refused(tmp_path) == f"{tmp_path}: not a regular file (a directory)"
