"""Limits on every operation: depth, aliases, tokens and cost.

They run during validation, before any resolver or SQL, so an over-budget request
costs one parse and one walk of its document. Each refusal carries
``extensions.code``: ``QUERY_TOO_DEEP``, ``TOO_MANY_ALIASES``, ``TOO_MANY_TOKENS``
(raised by the parser) or ``QUERY_TOO_COSTLY``.

Cost counts the objects an operation may return: each field costs the product of the
``first`` arguments of the connections above it and its own (a connection without
``first`` counts its default page size). ``contracts(first: 20) { lines { coils(first:
10) } }`` costs 20 + 20 x 10 and so on, whatever the data holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
    value_from_ast,
)
from strawberry.extensions import SchemaExtension

DEFAULT_PAGE_SIZE = 20
# Fragment cycles are a validation error of their own; this only keeps the walk finite.
_WALK_GUARD = 64


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_cost: int


@dataclass
class _Tally:
    depth: int = 0
    aliases: int = 0
    cost: int = 0


class _Walker:
    def __init__(self, context: ValidationContext, variables: dict[str, Any]) -> None:
        self.schema = context.schema
        self.fragments = {
            d.name.value: d for d in context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables

    def walk(self, op: OperationDefinitionNode) -> _Tally:
        root = self.schema.get_root_type(op.operation)
        tally = _Tally()
        if root is not None:
            self._selections(op.selection_set, root, 1, 1, tally, 0)
        return tally

    def _fields(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, guard: int
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                yield sel, parent
            elif guard < _WALK_GUARD:
                if isinstance(sel, InlineFragmentNode):
                    cond = sel.type_condition
                    target = self.schema.get_type(cond.name.value) if cond else parent
                    yield from self._fields(sel.selection_set, target or parent, guard + 1)
                elif isinstance(sel, FragmentSpreadNode):
                    frag = self.fragments.get(sel.name.value)
                    if frag is not None:
                        target = self.schema.get_type(frag.type_condition.name.value)
                        yield from self._fields(frag.selection_set, target or parent, guard + 1)

    def _selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, depth: int,
        multiplier: int, tally: _Tally, guard: int,
    ) -> None:
        tally.depth = max(tally.depth, depth)
        for node, owner in self._fields(selection_set, parent, guard):
            if node.alias is not None:
                tally.aliases += 1
            name = node.name.value
            if name.startswith("__"):
                continue
            field_def = None
            if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
                field_def = owner.fields.get(name)
            factor = self._page_size(node, field_def)
            cost = multiplier * factor
            tally.cost += cost
            if node.selection_set is not None and field_def is not None:
                child = get_named_type(field_def.type)
                self._selections(node.selection_set, child, depth + 1, cost, tally, guard + 1)

    def _page_size(self, node: FieldNode, field_def: Any) -> int:
        if field_def is None or "first" not in field_def.args:
            return 1
        for arg in node.arguments or ():
            if arg.name.value == "first":
                value = value_from_ast(arg.value, field_def.args["first"].type, self.variables)
                return max(1, int(value)) if isinstance(value, int) else DEFAULT_PAGE_SIZE
        default = field_def.args["first"].default_value
        return default if isinstance(default, int) else DEFAULT_PAGE_SIZE


def _rule(limits: Limits, variables: dict[str, Any]) -> type[ValidationRule]:
    class OperationBudget(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            walker = _Walker(self.context, variables)
            for op in node.definitions:
                if isinstance(op, OperationDefinitionNode):
                    self._check(walker.walk(op), op)

        def _check(self, tally: _Tally, op: OperationDefinitionNode) -> None:
            if tally.depth > limits.max_depth:
                self._refuse(f"operation is {tally.depth} levels deep; the limit is "
                             f"{limits.max_depth}", "QUERY_TOO_DEEP", op)
            if tally.aliases > limits.max_aliases:
                self._refuse(f"operation uses {tally.aliases} aliases; the limit is "
                             f"{limits.max_aliases}", "TOO_MANY_ALIASES", op)
            if tally.cost > limits.max_cost:
                self._refuse(f"operation may return {tally.cost} objects; the limit is "
                             f"{limits.max_cost}: ask for smaller pages", "QUERY_TOO_COSTLY", op)

        def _refuse(self, message: str, code: str, op: OperationDefinitionNode) -> None:
            self.report_error(GraphQLError(message, op, extensions={"code": code}))

    return OperationBudget


class OperationLimits(SchemaExtension):
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        ctx.parse_options["max_tokens"] = self.limits.max_tokens
        ctx.validation_rules = (*ctx.validation_rules, _rule(self.limits, ctx.variables or {}))
        yield
