"""Tasks of the diamond example. Each file holds integers, one per line."""

from pathlib import Path


def _read(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


def _write(path: Path, numbers: list[int]) -> None:
    path.write_text("".join(f"{n}\n" for n in numbers))


def _only_input(inputs: dict[str, Path]) -> Path:
    (path,) = inputs.values()
    return path


def increment(inputs: dict[str, Path], output: Path) -> None:
    _write(output, [n + 1 for n in _read(_only_input(inputs))])


def double(inputs: dict[str, Path], output: Path) -> None:
    _write(output, [2 * n for n in _read(inputs["a"])])


def square(inputs: dict[str, Path], output: Path) -> None:
    _write(output, [n * n for n in _read(inputs["a"])])


def add(inputs: dict[str, Path], output: Path) -> None:
    doubled, squared = _read(inputs["b"]), _read(inputs["c"])
    if len(doubled) != len(squared):
        raise ValueError(f"b has {len(doubled)} numbers but c has {len(squared)}")
    _write(output, [x + y for x, y in zip(doubled, squared, strict=True)])
