"""Limits on every operation: depth, aliases, tokens, cost and validation work.

They run before graphql-core validates the document and before any resolver or SQL, so
an over-budget request costs one parse and one walk of its document. Each refusal
carries ``extensions.code``: ``QUERY_TOO_DEEP``, ``TOO_MANY_ALIASES``, ``TOO_MANY_TOKENS``
(raised by the parser), ``QUERY_TOO_COSTLY`` or ``TOO_MANY_OVERLAPPING_FIELDS``.

Cost counts the fields an operation may resolve: each field costs the product of the
``first`` arguments of the connections above it and its own (a connection without
``first`` counts its default page size, `nodes(ids:)` the ids, any other list
ASSUMED_LIST_SIZE). Introspection counts like any other field; only its depth is free,
since its ``ofType`` chains nest deeply by design. Selections nested past a guard are
refused rather than skipped.

The walk visits each selection of the document a bounded number of times: a fragment's
cost is linear in the multiplier it is spread under, so its cost per unit, aliases and
depth are computed once (per introspection context) and scaled at every spread. A
document whose fragments spread each other twice over 22 levels is costed in as many
steps as it has selections, not 2^22.

graphql-core compares every pair of fields that share a response name (within a
selection set, and down their sub-selections) to check they can be merged; hundreds of
copies of one field make that quadratic. Its own meter of that work is capped at
``max_field_comparisons`` pairs, and running out refuses the document with
``TOO_MANY_OVERLAPPING_FIELDS`` instead of a bare "Validation aborted.".

The same pre-check refuses NUL characters in arguments (:mod:`api.inputs`) and, in
production, introspection (``__schema``, ``__type``) without a valid token
(``UNAUTHENTICATED``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import cache
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
    OperationType,
    SelectionSetNode,
    ValidationContext,
    VariableDefinitionNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_list_type,
    type_from_ast,
    value_from_ast,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef
from graphql.validation import ASTValidationRule, OverlappingFieldsCanBeMergedRule
from graphql.validation.validate import ValidationAbortedError
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from api.auth import AuthError
from api.inputs import nul_byte_errors

DEFAULT_PAGE_SIZE = 20
# Arguments that size what a field returns: a connection's page, a track's points.
PAGE_ARGUMENTS = ("first", "maxPoints")
# A list without `first` (a contract's lines, a route's stages, the schema's types) is
# bounded by the data, not the request; cost counts it as this many.
ASSUMED_LIST_SIZE = 10
# How deep selections (fields and fragments) may nest at all. Depth is limited by
# `max_depth`, except under introspection; this keeps every walk finite, also through
# fragment cycles (a validation error of their own).
_WALK_GUARD = 64
# Counts saturate here, so that no arithmetic grows without bound; far past any limit.
_CEILING = 10**15
# Fields that read the schema; `__typename` is not one of them.
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_cost: int
    # Pairs of same-named fields graphql-core may compare while validating a document.
    max_field_comparisons: int = 5000
    # Production refuses `__schema` and `__type` without a valid token.
    introspection_needs_token: bool = False


@dataclass(frozen=True)
class Tally:
    """What an operation would do: its deepest level, aliases and cost."""

    depth: int
    aliases: int
    cost: int
    introspects: bool


@dataclass(frozen=True)
class _Summary:
    """One level of selections (fragments flattened into it), for a multiplier of 1."""

    cost: int = 0
    aliases: int = 0
    below: int = 0  # levels counted under this one
    height: int = 0  # nesting of selections under this one, for the guard
    introspects: bool = False

    def merged(self, other: _Summary) -> _Summary:
        return _Summary(
            cost=_cap(self.cost + other.cost), aliases=_cap(self.aliases + other.aliases),
            below=max(self.below, other.below), height=max(self.height, other.height),
            introspects=self.introspects or other.introspects,
        )


class TooNested(Exception):
    """Selections nest deeper than the walk guard."""


def _cap(n: int) -> int:
    return min(n, _CEILING)


class Walker:
    """Tallies one operation. ``visits`` counts the selections it looked at."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode,
                 variables: dict[str, Any], guard: int = _WALK_GUARD) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables
        self.guard = guard
        self.visits = 0
        self.current: dict[str, Any] = {}
        self._memo: dict[tuple[str, bool], _Summary] = {}
        self._open: set[tuple[str, bool]] = set()

    def walk(self, op: OperationDefinitionNode) -> Tally:
        """Raises TooNested past the guard."""
        # A variable left out takes its default, and the default is what will run.
        variables = dict(self.variables)
        for d in op.variable_definitions or ():
            name = d.variable.name.value
            if name not in variables and d.default_value is not None:
                variables[name] = value_from_ast(d.default_value, _input_type(self.schema, d))
        self.current = variables
        self._memo.clear()
        root = self.schema.get_root_type(op.operation)
        if root is None:
            return Tally(depth=0, aliases=0, cost=0, introspects=False)
        s = self._level(op.selection_set, root, 0, introspecting=False)
        return Tally(depth=1 + s.below, aliases=s.aliases, cost=s.cost,
                     introspects=s.introspects)

    def _level(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None,
               guard: int, *, introspecting: bool) -> _Summary:
        if guard >= self.guard:
            raise TooNested
        total = _Summary()
        for sel in selection_set.selections:
            self.visits += 1
            if isinstance(sel, FieldNode):
                part = self._field_node(sel, parent, guard, introspecting=introspecting)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                target = self.schema.get_type(cond.name.value) if cond else parent
                inner = self._level(sel.selection_set, target, guard + 1,
                                    introspecting=introspecting)
                part = _nested(inner)
            elif isinstance(sel, FragmentSpreadNode):
                part = self._spread(sel.name.value, guard, introspecting=introspecting)
            else:  # pragma: no cover - graphql-core has no other selection
                continue
            total = total.merged(part)
        return total

    def _spread(self, name: str, guard: int, *, introspecting: bool) -> _Summary:
        key = (name, introspecting)
        known = self._memo.get(key)
        if known is not None:
            if guard + 1 + known.height >= self.guard:
                raise TooNested
            return _nested(known)
        frag = self.fragments.get(name)
        if frag is None or key in self._open:
            return _Summary()  # unknown or cyclic: validation reports it
        self._open.add(key)
        try:
            target = self.schema.get_type(frag.type_condition.name.value)
            inner = self._level(frag.selection_set, target, guard + 1,
                                introspecting=introspecting)
        finally:
            self._open.discard(key)
        self._memo[key] = inner
        return _nested(inner)

    def _field_node(self, node: FieldNode, owner: GraphQLNamedType | None, guard: int, *,
                    introspecting: bool) -> _Summary:
        name = node.name.value
        aliases = 1 if node.alias is not None else 0
        field_def = self._field(owner, name)
        if owner is not None and owner.name.endswith("Connection") and name in (
                "edges", "nodes"):
            size = 1  # the page, already sized by the connection's `first`
        else:
            size = _cap(self._size(node, field_def))
        here = _Summary(cost=size, aliases=aliases, introspects=name in INTROSPECTION_FIELDS)
        if node.selection_set is None or field_def is None:
            return here
        inner = introspecting or name.startswith("__")
        child = self._level(node.selection_set, get_named_type(field_def.type), guard + 1,
                            introspecting=inner)
        return _Summary(
            cost=_cap(size + size * child.cost), aliases=_cap(aliases + child.aliases),
            # Introspection nests `ofType` deeply by design; it is bounded by cost instead.
            below=0 if inner else 1 + child.below, height=1 + child.height,
            introspects=here.introspects or child.introspects,
        )

    def _field(self, owner: GraphQLNamedType | None, name: str) -> GraphQLField | None:
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


def _nested(inner: _Summary) -> _Summary:
    """A fragment's level as seen from the level it is spread in: one hop deeper."""
    return _Summary(cost=inner.cost, aliases=inner.aliases, below=inner.below,
                    height=1 + inner.height, introspects=inner.introspects)


_META_FIELDS: dict[str, GraphQLField] = {
    "__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef,
    "__typename": TypeNameMetaFieldDef,
}


def _input_type(schema: GraphQLSchema, d: VariableDefinitionNode) -> Any:
    return type_from_ast(schema, d.type)


def check(limits: Limits, walker: Walker,
          op: OperationDefinitionNode) -> tuple[Tally | None, list[GraphQLError]]:
    """The operation's tally and its refusals (none when it fits the limits)."""
    try:
        tally = walker.walk(op)
    except TooNested:
        return None, [_refusal(f"selections nest more than {walker.guard} levels deep",
                               "QUERY_TOO_DEEP", op)]
    errors = []
    if tally.depth > limits.max_depth:
        errors.append(_refusal(f"operation is {tally.depth} levels deep; the limit is "
                               f"{limits.max_depth}", "QUERY_TOO_DEEP", op))
    if tally.aliases > limits.max_aliases:
        errors.append(_refusal(f"operation uses {_count(tally.aliases)} aliases; the limit is "
                               f"{limits.max_aliases}", "TOO_MANY_ALIASES", op))
    if tally.cost > limits.max_cost:
        errors.append(_refusal(f"operation may resolve {_count(tally.cost)} fields; the limit "
                               f"is {limits.max_cost}: ask for smaller pages",
                               "QUERY_TOO_COSTLY", op))
    return tally, errors


def _over_websocket(context: Any) -> bool:
    return isinstance(getattr(context, "request", None), WebSocket)


def _count(n: int) -> str:
    return f"at least {n}" if n >= _CEILING else str(n)


def _refusal(message: str, code: str, node: Any = None) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": code})


@cache
def bounded_overlap_rule(max_comparisons: int) -> type[ASTValidationRule]:
    """graphql-core's OverlappingFieldsCanBeMergedRule with its work meter set to
    ``max_comparisons`` pairs of fields (two units each), refusing with a code."""

    class BoundedOverlappingFields(OverlappingFieldsCanBeMergedRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.rule_context.remaining_complexity_budget = 2 * max_comparisons

        def enter_selection_set(self, *args: Any) -> None:
            try:
                super().enter_selection_set(*args)
            except ValidationAbortedError:
                raise ValidationAbortedError(
                    f"fields with the same name repeat too often: checking that they merge "
                    f"takes more than {max_comparisons} comparisons; ask for each field once",
                    extensions={"code": "TOO_MANY_OVERLAPPING_FIELDS"},
                ) from None

    return BoundedOverlappingFields


class OperationLimits(SchemaExtension):
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        ctx.parse_options["max_tokens"] = self.limits.max_tokens
        bounded = bounded_overlap_rule(self.limits.max_field_comparisons)
        ctx.validation_rules = tuple(
            bounded if rule is OverlappingFieldsCanBeMergedRule else rule
            for rule in ctx.validation_rules
        )
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        # Errors set here skip graphql-core's validation: a refused document is never
        # validated, let alone executed.
        errors = await self._pre_check()
        if errors:
            self.execution_context.pre_execution_errors = errors
        yield

    async def _pre_check(self) -> list[GraphQLError]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is None:
            return []
        op = get_operation_ast(document, ctx.operation_name)
        if op is None:
            return []  # validation or execution says which operation is missing
        if op.operation is OperationType.SUBSCRIPTION and not _over_websocket(ctx.context):
            # Over HTTP it would run as a query and fail with an unexpected error.
            return [_refusal("a subscription runs over a WebSocket: open one on /graphql "
                             "with the graphql-transport-ws protocol", "BAD_REQUEST", op)]
        variables = ctx.variables or {}
        walker = Walker(ctx.schema._schema, document, variables,
                        guard=max(_WALK_GUARD, self.limits.max_depth + 1))
        tally, errors = check(self.limits, walker, op)
        if tally is None or errors:
            return errors
        errors = nul_byte_errors(document, op, variables)
        if errors:
            return errors
        if self.limits.introspection_needs_token and tally.introspects:
            return await self._introspection_refusal(op)
        return []

    async def _introspection_refusal(self, op: OperationDefinitionNode) -> list[GraphQLError]:
        viewer = getattr(self.execution_context.context, "viewer", None)
        if viewer is not None:
            try:
                await viewer()
                return []
            except AuthError:
                pass
        return [_refusal("introspection requires a valid token: send "
                         "`Authorization: Bearer <token>`", "UNAUTHENTICATED", op)]

