"""Strict YAML reading for app specs: duplicate keys are errors, and every field's line is kept.

PyYAML silently lets a later duplicate key win, which would hide a second task definition
with the same name; this loader rejects it instead.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from jupiter.app.locate import Loc, format_field
from jupiter.errors import SpecError


class _Loader(yaml.SafeLoader):
    """SafeLoader: no Python object tags, so loading a spec never runs code."""


def _index(node: Node, loc: Loc, lines: dict[Loc, int], file: str, seen: set[int]) -> None:
    # Aliases can make the node graph cyclic; visit each node once.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                _index(value_node, loc, lines, file, seen)
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key == "<<":  # merge key: its entries belong to this mapping
                _index(value_node, loc, lines, file, seen)
                continue
            if key in first_line:
                raise SpecError(
                    file,
                    format_field((*loc, key)),
                    f"defined twice (line {first_line[key]} and line {line})",
                )
            first_line[key] = line
            lines[(*loc, key)] = line
            _index(value_node, (*loc, key), lines, file, seen)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _index(item, (*loc, index), lines, file, seen)


def load_yaml(text: str, file: str) -> tuple[Any, dict[Loc, int]]:
    """Parse one YAML document; returns the data and a map from field position to line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Loc, int] = {}
        _index(node, (), lines, file, set())
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
        raise SpecError(file, where, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise SpecError(file, None, f"invalid YAML: {error}") from None
    finally:
        loader.dispose()
