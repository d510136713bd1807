from pathlib import Path


def step(inputs: dict[str, Path], output: Path) -> None:
    output.write_text("".join(p.read_text() for p in inputs.values()))
