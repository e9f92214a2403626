"""Plain selections answered by a compiled projection instead of the general executor.

graphql-core resolves every field of an answer on its own: it builds a resolve-info
object, calls the (wrapped) resolver, and completes the value, about ten microseconds a
field. Most fields of this schema are plain attributes of the objects the resolvers
return (a stage's dates, a spec's dimensions, a fix's coordinates), and a selection set
never changes while an operation runs. So the first time an object type is completed for
a given selection, that selection is compiled into a function that reads the attributes
and serializes the leaves with the schema's own scalars; every further object of that
selection (the next list item, the next subscription event) takes the function.

It compiles only what it can answer exactly as the executor would: object types (no
interfaces or unions), fields without a resolver, arguments, directives, permissions or
field extensions, no deferred fragments and no schema middleware. Anything else, or a
value the projection cannot complete (a null where the schema promises a value, a leaf
that does not serialize), goes to the general executor, which produces the answer and
the errors the spec asks for. A subscription whose whole selection compiles skips the
executor for its events altogether.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
)
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

Project = Callable[[Any], Any]

_NOT_COMPILED: Any = object()


class _Incomplete(Exception):
    """The projection cannot complete this value; the executor answers this event."""


class ProjectingExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """The executor for every operation. Subscription events take the projection when
    their selection set compiles; so does, in any operation, every object whose
    selection is all plain attributes (see the module's description)."""

    _projection: Any = _NOT_COMPILED
    # Compiled selections by (compiler, type, field nodes); shared with the copies made from
    # this executor (per event, per deferred fragment).
    _compiled: dict[tuple[Any, str, tuple[int, ...]], Project | None] | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        if self._projection is _NOT_COMPILED:
            self._projection = compile_subscription(self)
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> Any:
        project = self._projection
        data = _project(None if project is _NOT_COMPILED else project, self.root_value)
        if data is not _NOT_COMPILED:
            return ExecutionResult(data=data, errors=None)
        return super().execute_operation(serially)

    def collect_and_execute_subfields(
        self, return_type: GraphQLObjectType, field_details_list: Any, path: Any,
        result: Any, position_context: Any,
    ) -> Any:
        project = self._compiled_for(_compile_selection, return_type, field_details_list)
        value = _project(project, result)
        if value is not _NOT_COMPILED:
            return value
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context)

    def execute_field(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any,
        path: Any, position_context: Any,
    ) -> Any:
        # An object with one field that needs its resolver (a loader, an argument) still
        # has its plain fields answered here, each without the executor's bookkeeping.
        project = self._compiled_for(_compile_field, parent_type, field_details_list)
        value = _project(project, source)
        if value is not _NOT_COMPILED:
            return value
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context)

    def _compiled_for(
        self, compile_: Callable[[Any, GraphQLObjectType, Any], Project | None],
        type_: GraphQLObjectType, field_details_list: Any,
    ) -> Project | None:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = {}
        key = (compile_, type_.name, tuple(id(d.node) for d in field_details_list))
        if key not in compiled:
            compiled[key] = compile_(self, type_, field_details_list)
        return compiled[key]


def _project(project: Project | None, source: Any) -> Any:
    """What ``project`` makes of ``source``; _NOT_COMPILED when there is no projection or
    it cannot complete the value (the executor then answers, errors and all)."""
    if project is None:
        return _NOT_COMPILED
    try:
        return project(source)
    except Exception:
        return _NOT_COMPILED


def _plain_context(executor: Any, field_details_list: Any = ()) -> bool:
    """No schema middleware, deferred fragment or fragment variable in the way."""
    manager = executor.middleware_manager
    if manager is not None and manager.middlewares:
        return False
    return not any(d.defer_usage is not None or d.fragment_variable_values
                   for d in field_details_list)


def _compile_field(
    executor: Any, parent_type: GraphQLObjectType, field_details_list: Any
) -> Project | None:
    """One field of ``parent_type`` read from its source object, when it is plain."""
    if not _plain_context(executor, field_details_list):
        return None
    nodes = [d.node for d in field_details_list]
    if any(n.directives or n.arguments for n in nodes):
        return None
    name = nodes[0].name.value
    if name == "__typename":
        type_name = parent_type.name
        return lambda _source: type_name
    field = parent_type.fields.get(name)
    if field is None:
        return None
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None or not definition.is_basic_field or definition.permission_classes:
        return None
    value = _compile(executor, field.type, nodes)
    if value is None:
        return None
    attribute = definition.python_name
    return lambda source: value(getattr(source, attribute))


def _compile_selection(
    executor: Any, type_: GraphQLObjectType, field_details_list: Any
) -> Project | None:
    if not _plain_context(executor, field_details_list):
        return None
    return _compile_object(executor, type_, [d.node for d in field_details_list])


def compile_subscription(executor: Any) -> Project | None:
    """A function from an event to the ``data`` of its result, or None when the
    operation's selection set needs the general executor."""
    operation = executor.operation
    root = executor.schema.subscription_type
    if operation.operation is not OperationType.SUBSCRIPTION or root is None:
        return None
    if not _plain_context(executor):
        return None
    fields = _collect(executor, root, [operation.selection_set])
    if fields is None or len(fields) != 1:
        return None
    ((key, nodes),) = fields.items()
    field = root.fields.get(nodes[0].name.value)
    if field is None or any(n.arguments and n is not nodes[0] for n in nodes):
        return None
    # The root field of a subscription resolves to the event itself.
    value = _compile(executor, field.type, nodes)
    if value is None:
        return None
    return lambda event: {key: value(event)}


def _compile(executor: Any, type_: GraphQLOutputType, nodes: list[FieldNode]) -> Project | None:
    if isinstance(type_, GraphQLNonNull):
        inner = _compile(executor, type_.of_type, nodes)
        if inner is None:
            return None

        def required(value: Any) -> Any:
            if value is None:
                raise _Incomplete
            return inner(value)

        return required
    value = _compile_nullable(executor, type_, nodes)
    if value is None:
        return None
    return lambda v: None if v is None else value(v)


def _compile_nullable(
    executor: Any, type_: GraphQLOutputType, nodes: list[FieldNode]
) -> Project | None:
    if isinstance(type_, GraphQLList):
        item = _compile(executor, type_.of_type, nodes)
        if item is None:
            return None
        return lambda values: [item(v) for v in values]
    if isinstance(type_, (GraphQLScalarType, GraphQLEnumType)):
        serialize = type_.serialize

        def leaf(value: Any) -> Any:
            out = serialize(value)
            if out is None or out is Undefined:
                raise _Incomplete
            return out

        return leaf
    if isinstance(type_, GraphQLObjectType):
        return _compile_object(executor, type_, nodes)
    return None  # interfaces and unions: the executor resolves the concrete type


def _compile_object(
    executor: Any, type_: GraphQLObjectType, nodes: list[FieldNode]
) -> Project | None:
    fields = _collect(executor, type_, [n.selection_set for n in nodes if n.selection_set])
    if not fields:
        return None
    entries: list[tuple[str, str | None, Project | None]] = []
    for key, field_nodes in fields.items():
        name = field_nodes[0].name.value
        if name == "__typename":
            entries.append((key, None, None))
            continue
        field = type_.fields.get(name)
        if field is None or any(n.arguments for n in field_nodes):
            return None
        definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if definition is None or not definition.is_basic_field or definition.permission_classes:
            return None
        value = _compile(executor, field.type, field_nodes)
        if value is None:
            return None
        entries.append((key, definition.python_name, value))
    type_name = type_.name

    def project(source: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, attribute, value in entries:
            if attribute is None or value is None:
                out[key] = type_name
            else:
                out[key] = value(getattr(source, attribute))
        return out

    return project


def _collect(
    executor: Any, type_: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode]
) -> dict[str, list[FieldNode]] | None:
    """Fields by response key in document order, as the executor collects them; None
    when a directive or a type condition other than the type itself is in the way."""
    fields: dict[str, list[FieldNode]] = {}
    seen: set[str] = set()

    def visit(selection_set: SelectionSetNode) -> bool:
        for selection in selection_set.selections:
            if selection.directives:
                return False
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is not None and condition.name.value != type_.name:
                    return False
                if not visit(selection.selection_set):
                    return False
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in seen:
                    continue
                seen.add(name)
                fragment = executor.fragment_definitions.get(name)
                if fragment is None or fragment.type_condition.name.value != type_.name:
                    return False
                if not visit(fragment.selection_set):
                    return False
        return True

    return fields if all(visit(s) for s in selection_sets) else None
