"""Checks on argument values that hold for every field, before any resolver runs.

PostgreSQL's text and jsonb cannot hold the NUL character (U+0000): a string carrying
one would fail in the database as an unexpected error. Every string of an operation's
arguments, written in the document or passed in a variable, nested in input objects,
lists or JSON values, and the name of an uploaded file, is checked first; one carrying
NUL is refused with ``BAD_USER_INPUT`` naming the argument's path (``input.notes``,
``input.lines[2].note``) in the message and in ``extensions.argument``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)

NUL = "\x00"


def nul_byte_errors(document: DocumentNode, operation: OperationDefinitionNode,
                    variables: dict[str, Any]) -> list[GraphQLError]:
    """One BAD_USER_INPUT error per argument of ``operation`` (and the fragments it may
    spread) whose value holds a NUL character; empty when none does."""
    # Where, inside each variable's value as it will run, a NUL sits.
    in_variables: dict[str, str] = {}
    for d in operation.variable_definitions or ():
        name = d.variable.name.value
        if name in variables:
            where = _in_value(variables[name])
        elif d.default_value is not None:
            where = _in_literal(d.default_value, {})
        else:
            where = None
        if where is not None:
            in_variables[name] = where
    errors: list[GraphQLError] = []
    used: set[str] = set()
    roots: list[Node] = [operation]
    roots += [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    for owner, arg in _arguments(roots):
        where = _in_literal(arg.value, in_variables)
        if where is None:
            continue
        used.update(v.name.value for v in _variables(arg.value) if v.name.value in in_variables)
        errors.append(_error(arg.name.value + where, f"of `{owner}`", arg))
    for name, where in in_variables.items():
        if name not in used:
            errors.append(_error(f"${name}{where}", "", operation))
    return errors


def _error(path: str, owner: str, node: Node) -> GraphQLError:
    where = f"`{path}` {owner}".strip()
    return GraphQLError(
        f"argument {where} contains a NUL character (\\u0000), which text may not hold",
        node, extensions={"code": "BAD_USER_INPUT", "argument": path})


def _arguments(roots: list[Node]) -> Iterator[tuple[str, ArgumentNode]]:
    """Every argument of a field or directive under ``roots``, with its owner's name."""
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode):
            for arg in node.arguments or ():
                yield node.name.value, arg
        elif isinstance(node, DirectiveNode):
            for arg in node.arguments or ():
                yield f"@{node.name.value}", arg
        children = (*(getattr(node, "directives", None) or ()), *_selections(node))
        stack.extend(reversed(children))


def _selections(node: Node) -> tuple[Node, ...]:
    selection_set = getattr(node, "selection_set", None)
    return tuple(selection_set.selections) if selection_set is not None else ()


def _variables(value: ValueNode) -> Iterator[VariableNode]:
    if isinstance(value, VariableNode):
        yield value
    elif isinstance(value, ListValueNode):
        for item in value.values:
            yield from _variables(item)
    elif isinstance(value, ObjectValueNode):
        for f in value.fields:
            yield from _variables(f.value)


def _in_literal(value: ValueNode, in_variables: dict[str, str]) -> str | None:
    """The path inside a literal to its first NUL ("" for the value itself), or None."""
    if isinstance(value, StringValueNode):
        return "" if NUL in value.value else None
    if isinstance(value, VariableNode):
        return in_variables.get(value.name.value)
    if isinstance(value, ListValueNode):
        for i, item in enumerate(value.values):
            where = _in_literal(item, in_variables)
            if where is not None:
                return f"[{i}]{where}"
    if isinstance(value, ObjectValueNode):
        for f in value.fields:
            where = _in_literal(f.value, in_variables)
            if where is not None:
                return f".{f.name.value}{where}"
    return None


def _in_value(value: Any) -> str | None:
    """The path inside a variable's value (JSON) to its first NUL, or None."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return path
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                key_text = str(key)
                if NUL in key_text:
                    return path + "." + key_text.replace(NUL, "\\u0000")
                stack.append((f"{path}.{key_text}", inner))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", inner) for i, inner in reversed(list(enumerate(item))))
        elif isinstance(getattr(item, "filename", None), str) and NUL in item.filename:
            return path  # an uploaded file, whose name is stored as text
    return None
