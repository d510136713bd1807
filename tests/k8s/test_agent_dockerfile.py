"""The repository's Dockerfile (the agent image): its base image is a build argument, so a
user can pin it by digest; both stages build from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jupiter.k8s.render import check_image

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"
DIGEST = "sha256:" + "0123456789abcdef" * 4


def _stages(build_args: dict[str, str]) -> list[str]:
    """The image each FROM resolves to, as `docker build --build-arg` would resolve it:
    an ARG before the first FROM, its default replaced by a given build argument."""
    args: dict[str, str] = {}
    images = []
    for line in DOCKERFILE.read_text().splitlines():
        if match := re.fullmatch(r"ARG (\w+)(?:=(\S+))?", line.strip()):
            name, default = match.groups()
            if not images:  # only ARGs before the first FROM reach FROM lines
                args[name] = build_args.get(name, default or "")
        elif match := re.fullmatch(r"FROM (\S+)(?: AS \w+)?", line.strip()):
            images.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], match.group(1)))
    return images


def test_the_base_image_defaults_to_a_tag() -> None:
    assert _stages({}) == ["python:3.11-slim-bookworm", "python:3.11-slim-bookworm"]


@pytest.mark.parametrize(
    "pinned", [f"python:3.11-slim-bookworm@{DIGEST}", f"registry.example.com/python@{DIGEST}"]
)
def test_a_digest_given_as_build_arg_pins_every_stage(pinned: str) -> None:
    assert check_image(pinned) == pinned  # a reference Docker and Kubernetes accept
    assert _stages({"PYTHON_IMAGE": pinned}) == [pinned, pinned]


def test_the_dockerfile_says_how_to_pin_the_digest() -> None:
    assert "--build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:" in DOCKERFILE.read_text()
