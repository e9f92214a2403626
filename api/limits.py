"""Limits on every operation: depth, aliases, tokens and cost.

They run during validation, before any resolver or SQL, so an over-budget request
costs one parse and one walk of its document. Each refusal carries
``extensions.code``: ``QUERY_TOO_DEEP``, ``TOO_MANY_ALIASES``, ``TOO_MANY_TOKENS``
(raised by the parser) or ``QUERY_TOO_COSTLY``.

Cost counts the fields an operation may resolve: each field costs the product of the
``first`` arguments of the connections above it and its own (a connection without
``first`` counts its default page size, `nodes(ids:)` the ids, any other list
ASSUMED_LIST_SIZE). Introspection counts like any other field; only its depth is free,
since its ``ofType`` chains nest deeply by design. Fragments nested past a guard are
refused rather than skipped.
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
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableDefinitionNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    value_from_ast,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef
from strawberry.extensions import SchemaExtension

DEFAULT_PAGE_SIZE = 20
# Arguments that size what a field returns: a connection's page, a track's points.
PAGE_ARGUMENTS = ("first", "maxPoints")
# A list without `first` (a contract's lines, a route's stages, the schema's types) is
# bounded by the data, not the request; cost counts it as this many.
ASSUMED_LIST_SIZE = 10
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
        self.too_nested = False

    def walk(self, op: OperationDefinitionNode) -> _Tally:
        # A variable left out takes its default, and the default is what will run.
        variables = dict(self.variables)
        for d in op.variable_definitions or ():
            name = d.variable.name.value
            if name not in variables and d.default_value is not None:
                variables[name] = value_from_ast(d.default_value, _input_type(self.schema, d))
        self.current = variables
        root = self.schema.get_root_type(op.operation)
        tally = _Tally()
        if root is not None:
            self._selections(op.selection_set, root, 1, 1, tally, 0, introspecting=False)
        return tally

    def _fields(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, guard: int
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                yield sel, parent
            elif guard >= _WALK_GUARD:
                self.too_nested = True
            elif isinstance(sel, InlineFragmentNode):
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
        multiplier: int, tally: _Tally, guard: int, *, introspecting: bool,
    ) -> None:
        # Introspection nests `ofType` deeply by design; it is bounded by cost instead.
        if not introspecting:
            tally.depth = max(tally.depth, depth)
        for node, owner in self._fields(selection_set, parent, guard):
            if node.alias is not None:
                tally.aliases += 1
            field_def = self._field(owner, node.name.value)
            if owner.name.endswith("Connection") and node.name.value in ("edges", "nodes"):
                cost = multiplier  # the page, already sized by the connection's `first`
            else:
                cost = multiplier * self._size(node, field_def)
            tally.cost += cost
            if node.selection_set is not None and field_def is not None:
                child = get_named_type(field_def.type)
                self._selections(
                    node.selection_set, child, depth + 1, cost, tally, guard + 1,
                    introspecting=introspecting or node.name.value.startswith("__"),
                )

    def _field(self, owner: GraphQLNamedType, name: str) -> GraphQLField | None:
        meta = _META_FIELDS.get(name)
        if meta is not None:
            return meta
        if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
            found: GraphQLField | None = owner.fields.get(name)
            return found
        return None

    def _size(self, node: FieldNode, field_def: GraphQLField | None) -> int:
        """How many objects the field may return for each parent."""
        if field_def is None:
            return 1
        args = {a.name.value: a.value for a in node.arguments or ()}
        for size in PAGE_ARGUMENTS:
            if size in field_def.args:
                value: Any = field_def.args[size].default_value
                if size in args:
                    value = value_from_ast(args[size], field_def.args[size].type, self.current)
                return max(1, value) if isinstance(value, int) else DEFAULT_PAGE_SIZE
        if "ids" in field_def.args and "ids" in args:
            ids = value_from_ast(args["ids"], field_def.args["ids"].type, self.current)
            return max(1, len(ids)) if isinstance(ids, list) else ASSUMED_LIST_SIZE
        if is_list_type(get_nullable_type(field_def.type)):
            return ASSUMED_LIST_SIZE
        return 1


_META_FIELDS: dict[str, GraphQLField] = {
    "__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef,
    "__typename": TypeNameMetaFieldDef,
}


def _input_type(schema: GraphQLSchema, d: VariableDefinitionNode) -> Any:
    from graphql import type_from_ast

    return type_from_ast(schema, d.type)


def _rule(limits: Limits, variables: dict[str, Any]) -> type[ValidationRule]:
    class OperationBudget(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            walker = _Walker(self.context, variables)
            for op in node.definitions:
                if isinstance(op, OperationDefinitionNode):
                    tally = walker.walk(op)
                    if walker.too_nested:
                        self._refuse(f"fragments nest more than {_WALK_GUARD} levels deep",
                                     "QUERY_TOO_DEEP", op)
                        return
                    self._check(tally, op)

        def _check(self, tally: _Tally, op: OperationDefinitionNode) -> None:
            if tally.depth > limits.max_depth:
                self._refuse(f"operation is {tally.depth} levels deep; the limit is "
                             f"{limits.max_depth}", "QUERY_TOO_DEEP", op)
            if tally.aliases > limits.max_aliases:
                self._refuse(f"operation uses {tally.aliases} aliases; the limit is "
                             f"{limits.max_aliases}", "TOO_MANY_ALIASES", op)
            if tally.cost > limits.max_cost:
                self._refuse(f"operation may resolve {tally.cost} fields; the limit is "
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
