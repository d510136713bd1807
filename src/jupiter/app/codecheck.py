"""Checking that a Python task's function exists, by reading the source with `ast`.

Importing the module would run the user's code during validation (side effects, slow
imports, even a crash); parsing runs nothing.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator


def find_problem(source: str, filename: str, function: str) -> str | None:
    """Why `filename` cannot provide the task function `function`, or None if it can."""
    bindings = _bindings(source, filename)
    if isinstance(bindings, str):
        return bindings
    if function not in bindings:
        if "*" in bindings:
            return None  # a star import may provide it; only running the code could tell
        defined = sorted(n for n, node in bindings.items() if isinstance(node, ast.FunctionDef))
        listing = f"; it defines: {', '.join(defined)}" if defined else ""
        return f"{filename} has no top-level function '{function}'{listing}"
    node = bindings[function]
    if isinstance(node, ast.AsyncFunctionDef):
        return f"{filename}: '{function}' is async; a task function must be a plain def"
    if isinstance(node, ast.FunctionDef) and not node.decorator_list:
        return _signature_problem(node, filename)
    # Assigned, imported or decorated: callable-ness is only known at run time.
    return None


@functools.lru_cache(maxsize=32)
def _bindings(source: str, filename: str) -> dict[str, ast.AST] | str:
    """The module's top-level names, or why it cannot be parsed.

    Cached: an app's tasks often share one code file, and parsing it once per task made
    loading a 200-task app take seconds.
    """
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        return f"{filename} line {error.lineno}: syntax error: {error.msg}"
    except ValueError as error:  # e.g. null bytes in the source
        return f"{filename}: cannot be parsed: {error}"
    return dict(_top_level_bindings(tree.body))


def _signature_problem(node: ast.FunctionDef, filename: str) -> str | None:
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    where = f"{filename} line {node.lineno}: '{node.name}'"
    if required > 2:
        call = f"{node.name}(inputs, output)"
        return f"{where} needs {required} arguments; a task is called as {call}"
    if positional < 2 and args.vararg is None:
        return f"{where} must accept two arguments: (inputs, output)"
    if any(default is None for default in args.kw_defaults):
        return f"{where} has keyword-only arguments without defaults; they would never be given"
    return None


def _top_level_bindings(body: list[ast.stmt]) -> Iterator[tuple[str, ast.AST]]:
    """Names bound at module level, in source order (later bindings win in a dict)."""
    for statement in body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield statement.name, statement
        elif isinstance(statement, ast.Assign):
            for target in statement.targets:
                yield from _assigned_names(target, statement)
        elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
            yield from _assigned_names(statement.target, statement)
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            for alias in statement.names:
                name = alias.asname or alias.name.split(".")[0]
                yield name, statement
        elif isinstance(statement, ast.If | ast.For | ast.While | ast.With):
            yield from _top_level_bindings(statement.body)
            yield from _top_level_bindings(getattr(statement, "orelse", []))
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody):
                yield from _top_level_bindings(block)
            for handler in statement.handlers:
                yield from _top_level_bindings(handler.body)


def _assigned_names(target: ast.expr, statement: ast.stmt) -> Iterator[tuple[str, ast.AST]]:
    if isinstance(target, ast.Name):
        yield target.id, statement
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _assigned_names(element, statement)
