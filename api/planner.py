"""The read planner: a query's root field answered by one SQL statement.

For a query operation, each root field with a root form (``ROOTS`` of an area's
``forms.py``) whose whole selection has SQL forms (resolvers/forms.py) is compiled into
one statement (domain/readplan.py) that returns the field's JSON; the executor splices
those bytes into the answer unchanged (an ``orjson.Fragment``). Every table is read
under its rule in domain/tenancy.py; a type without a table rule, a field without a
form, a directive, an interface or an argument the form does not take leaves the root
field to the resolvers, as does anything that goes wrong (an unauthenticated viewer, a
malformed cursor, a failing statement): the resolvers then give the answer and the
errors the GraphQL spec asks for. The rest of the operation's root fields are still
planned.

``KEYLINK_READ_PLANNER=off`` leaves every field to the resolvers.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
from graphql import (
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
from graphql.execution.values import get_argument_values
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments

from api.auth import AuthError
from api.projection import ProjectingExecutionContext
from domain import readplan
from domain.tenancy import Where
from resolvers import parties_forms, settlements_forms
from resolvers.contracts import forms as contract_forms
from resolvers.disputes import forms as dispute_forms
from resolvers.forms import (
    Column,
    Found,
    Join,
    NotPlanned,
    Pages,
    Planned,
    RootOne,
    RootPage,
    Rows,
    Same,
    Stored,
)
from resolvers.node import NODE_READERS, NODE_TYPES
from resolvers.quality import forms as quality_forms
from resolvers.relay import after_id, check_first, from_global_id
from resolvers.shipments import forms as shipment_forms

log = logging.getLogger("keylink.planner")

AREAS = (contract_forms, quality_forms, parties_forms, shipment_forms, dispute_forms,
         settlements_forms)


def _registry() -> dict[str, Planned]:
    found: dict[str, Planned] = {}
    for area in AREAS:
        for cls, planned in area.PLANNED.items():
            found[cls.__strawberry_definition__.name] = planned
    return found


PLANNED = _registry()
Root = Callable[[Where, dict[str, Any]], RootPage | RootOne]
ROOTS: dict[str, Root] = {}
for _area in AREAS:
    ROOTS.update(getattr(_area, "ROOTS", {}))

# Scalars written by PostgreSQL's JSON as the schema writes them.
_PLAIN_SCALARS = frozenset({"String", "Int", "Boolean", "Float", "Date"})


def _unwrap(type_: GraphQLOutputType) -> GraphQLOutputType:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _item(connection: GraphQLObjectType, name: str) -> GraphQLOutputType:
    """The item type of a connection's list field ``name`` (``nodes``, ``edges``)."""
    listed = _unwrap(connection.fields[name].type)
    if not isinstance(listed, GraphQLList):
        raise NotPlanned(f"{connection.name}.{name} is not a list")
    return _unwrap(listed.of_type)


class Compiler:
    """Writes the SQL of one root field's selection."""

    def __init__(self, executor: Any, st: readplan.Statement) -> None:
        self.executor = executor
        self.st = st
        services = getattr(executor.context_value, "services", None)
        # Live state (Redis) answers some fields first: those are planned without it only.
        self.live = getattr(services, "redis", None) is not None

    # Selections.

    def collect(self, type_: GraphQLObjectType, nodes: list[FieldNode]
                ) -> dict[str, list[FieldNode]]:
        fields: dict[str, list[FieldNode]] = {}
        seen: set[str] = set()

        def visit(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if selection.directives:
                    raise NotPlanned("a directive")
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if condition is None or applies(condition.name.value):
                        visit(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in seen:
                        continue
                    seen.add(name)
                    fragment = self.executor.fragment_definitions.get(name)
                    if fragment is None:
                        raise NotPlanned("an unknown fragment")
                    if applies(fragment.type_condition.name.value):
                        visit(fragment.selection_set)

        def applies(condition: str) -> bool:
            """A fragment applies on the type itself and the interfaces it implements;
            on another object type it does not; a union is left to the executor."""
            if condition == type_.name or condition in {i.name for i in type_.interfaces}:
                return True
            if isinstance(self.executor.schema.get_type(condition), GraphQLObjectType):
                return False
            raise NotPlanned(f"a fragment on {condition}")

        for node in nodes:
            if node.selection_set is not None:
                visit(node.selection_set)
        return fields

    def arguments(self, field_def: Any, node: FieldNode) -> dict[str, Any]:
        """A field's arguments as its resolver receives them (Python names, inputs)."""
        raw = get_argument_values(field_def, node, self.executor.variable_values)
        definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        schema = self.executor.schema._strawberry_schema
        converted: dict[str, Any] = convert_arguments(
            raw, definition.arguments, scalar_registry=schema.schema_converter.scalar_registry,
            config=schema.config)
        for argument in definition.arguments:
            converted.setdefault(argument.python_name, argument.default)
        return converted

    # Objects and values.

    def obj(self, type_: GraphQLObjectType, nodes: list[FieldNode], alias: str) -> str:
        planned = PLANNED.get(type_.name)
        if planned is None:
            raise NotPlanned(f"{type_.name} has no forms")
        is_node = any(i.name == "Node" for i in type_.interfaces)
        entries: list[tuple[str, str]] = []
        for key, field_nodes in self.collect(type_, nodes).items():
            name = field_nodes[0].name.value
            if name == "__typename":
                entries.append((key, readplan.literal(type_.name)))
                continue
            field_def = type_.fields[name]
            if name == "id" and is_node and planned.table is not None:
                entries.append((key, readplan.relay_id(type_.name, f"{alias}.id")))
                continue
            definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            form = planned.fields.get(definition.python_name) if definition else None
            if form is None:
                raise NotPlanned(f"{type_.name}.{name} has no form")
            if not isinstance(form, Pages | Found) and any(n.arguments for n in field_nodes):
                raise NotPlanned(f"{type_.name}.{name} takes arguments")
            entries.append((key, self.value(form, field_def, field_nodes, alias)))
        return readplan.obj(entries)

    def value(self, form: Any, field_def: Any, nodes: list[FieldNode], alias: str) -> str:
        type_ = _unwrap(field_def.type)
        if isinstance(form, Column):
            return self.leaf(type_, form.over(alias))
        if isinstance(form, Same):
            target = self._object(type_)
            if PLANNED.get(target.name, Planned("?")).table is not None:
                raise NotPlanned("Same on a type with a table of its own")
            return self.obj(target, nodes, alias)
        if isinstance(form, Join):
            target = self._object(type_)
            table = self._table(target)
            c = self.st.alias()
            return readplan.one(self.st, table, c, form.on.format(t=alias, c=c),
                                self.obj(target, nodes, c))
        if isinstance(form, Rows):
            if not isinstance(type_, GraphQLList):
                raise NotPlanned("Rows of a field that is not a list")
            target = self._object(_unwrap(type_.of_type))
            table = self._table(target)
            c = self.st.alias()
            return readplan.rows(self.st, table, c, form.on.format(t=alias, c=c),
                                 form.order.format(c=c), self.obj(target, nodes, c))
        if isinstance(form, Pages | Found):
            return self.pages(form, field_def, nodes, alias)
        if isinstance(form, Stored):
            if self.live:
                raise NotPlanned("a field read from live state first")
            target = self._object(type_)
            if PLANNED.get(target.name, Planned("?")).table is not None:
                raise NotPlanned("Stored of a type with a table of its own")
            c = self.st.alias()
            return (f"(SELECT {self.obj(target, nodes, c)} FROM"
                    f" ({form.source.format(t=alias)}) {c} LIMIT 1)")
        raise NotPlanned(f"no such form {form!r}")

    def leaf(self, type_: GraphQLOutputType, expr: str) -> str:
        if isinstance(type_, GraphQLEnumType):
            return readplan.enum_name(expr, {v.value: n for n, v in type_.values.items()})
        if isinstance(type_, GraphQLScalarType):
            if type_.name in _PLAIN_SCALARS:
                return expr
            if type_.name == "Decimal":
                return readplan.decimal(expr)
            if type_.name == "DateTime":
                return readplan.timestamp(expr)
        raise NotPlanned(f"no SQL form of {type_}")

    def _object(self, type_: GraphQLOutputType) -> GraphQLObjectType:
        if not isinstance(type_, GraphQLObjectType):
            raise NotPlanned("an interface or union")
        return type_

    def _table(self, type_: GraphQLObjectType) -> str:
        planned = PLANNED.get(type_.name)
        if planned is None or planned.table is None:
            raise NotPlanned(f"{type_.name} has no table")
        return planned.table

    # Connections.

    def pages(self, form: Pages | Found, field_def: Any, nodes: list[FieldNode],
              alias: str) -> str:
        if len({id(n) for n in nodes}) > 1 and any(n.arguments for n in nodes[1:]):
            raise NotPlanned("a connection selected twice with arguments")
        args = self.arguments(field_def, nodes[0])
        first = check_first(args["first"])
        after = args.get("after")
        connection = self._object(_unwrap(field_def.type))
        node_type = self._object(_item(connection, "nodes"))
        c = self.st.alias()
        if isinstance(form, Found):
            if PLANNED.get(node_type.name, Planned("?")).table is not None:
                raise NotPlanned("Found of a type with a table of its own")
            source = form.source(f"{alias}.id", f"{self.st.arg(after_id(after) or 0)}::bigint",
                                 str(int(first) + 1))
        else:
            source = readplan.child_page_source(
                self.st, self._table(node_type), c, form.on.format(t=alias, c=c), form.key,
                first, after_id(after))
        return readplan.page(self.st, source, c, f"{c}.{form.key}", readplan.id_cursor(
            f"{c}.{form.key}"), first, after is not None, self.shape(connection, nodes, c))

    def shape(self, connection: GraphQLObjectType, nodes: list[FieldNode], alias: str
              ) -> list[tuple[str, str, Any]]:
        node_type = self._object(_item(connection, "nodes"))
        shape: list[tuple[str, str, Any]] = []
        for key, field_nodes in self.collect(connection, nodes).items():
            name = field_nodes[0].name.value
            if name == "__typename":
                shape.append((key, "literal", readplan.literal(connection.name)))
            elif name == "nodes":
                shape.append((key, "nodes", self.obj(node_type, field_nodes, alias)))
            elif name == "edges":
                edge_type = self._object(_item(connection, "edges"))
                edge: list[tuple[str, str, Any]] = []
                for ekey, enodes in self.collect(edge_type, field_nodes).items():
                    ename = enodes[0].name.value
                    if ename == "cursor":
                        edge.append((ekey, "cursor", None))
                    elif ename == "node":
                        edge.append((ekey, "node", self.obj(node_type, enodes, alias)))
                    else:
                        edge.append((ekey, "literal", readplan.literal(edge_type.name)))
                shape.append((key, "edges", edge))
            elif name == "pageInfo":
                info_type = self._object(_unwrap(connection.fields["pageInfo"].type))
                info = []
                for ikey, inodes in self.collect(info_type, field_nodes).items():
                    iname = inodes[0].name.value
                    info.append((ikey, readplan.literal(info_type.name)
                                 if iname == "__typename" else iname))
                shape.append((key, "pageInfo", info))
            else:
                raise NotPlanned(f"{connection.name}.{name}")
        return shape

    # Roots.

    def node(self, field_def: Any, nodes: list[FieldNode]) -> str:
        """`node(id:)`: the object of the type its id names, as that type's own reads
        find it (resolvers/node.py)."""
        type_name, pk = from_global_id(self.arguments(field_def, nodes[0])["id"])
        if type_name not in NODE_TYPES or type_name in NODE_READERS:
            raise NotPlanned(f"node of {type_name}")
        target = self._object(self.executor.schema.get_type(type_name))
        c = self.st.alias()
        return readplan.one(self.st, self._table(target), c,
                            f"{c}.id = {self.st.arg(pk)}::bigint", self.obj(target, nodes, c))

    def root(self, field_def: Any, nodes: list[FieldNode]) -> str:
        name = nodes[0].name.value
        if len(nodes) > 1:
            raise NotPlanned("a root field selected twice")
        if name == "node":
            return self.node(field_def, nodes)
        make = ROOTS.get(name)
        if make is None:
            raise NotPlanned(f"no root form for {name}")
        found = make(self.st.where, self.arguments(field_def, nodes[0]))
        type_ = _unwrap(field_def.type)
        if isinstance(found, RootOne):
            target = self._object(type_)
            if self._table(target) != found.table:
                raise NotPlanned("a root form of another table")
            c = self.st.alias()
            return readplan.one(self.st, found.table, c, found.on.format(c=c),
                                self.obj(target, nodes, c))
        connection = self._object(type_)
        self._table(self._object(_item(connection, "nodes")))
        # The page's rows get an alias of the statement's own, so that no alias of a
        # domain statement nested below (`s`, `c`, `l`) can capture them.
        alias = self.st.alias()

        def own(expr: str) -> str:
            return re.sub(rf"\b{re.escape(found.alias)}\.", f"{alias}.", expr)

        return readplan.page(self.st, found.source, alias, own(found.order),
                             readplan.id_cursor(*map(own, found.cursor)), found.first,
                             found.had_after, self.shape(connection, nodes, alias))


class PlanningExecutionContext(ProjectingExecutionContext):
    """The executor, with root fields of queries answered by the read planner."""

    def execute_field(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any,
        path: Any, position_context: Any,
    ) -> Any:
        if parent_type is self.schema.query_type and _planning(self):
            planned = self._compile(parent_type, field_details_list)
            if planned is not None:
                return self._answer(planned, parent_type, source, field_details_list, path,
                                    position_context)
        return super().execute_field(parent_type, source, field_details_list, path,
                                     position_context)

    def _compile(self, parent_type: GraphQLObjectType, field_details_list: Any
                 ) -> tuple[readplan.Statement, str] | None:
        if any(d.defer_usage is not None or d.fragment_variable_values
               for d in field_details_list):
            return None
        nodes = [d.node for d in field_details_list]
        if any(n.directives for n in nodes):
            return None
        field_def = parent_type.fields.get(nodes[0].name.value)
        if field_def is None:
            return None
        st = readplan.Statement(Where([None]))  # $1 is bound once the viewer is known
        try:
            sql = Compiler(self, st).root(field_def, nodes)
        except Exception as exc:  # NotPlanned, NoRule, a refused argument: resolvers
            log.debug("not planned: %s", exc)
            return None
        return st, sql

    async def _answer(self, planned: tuple[readplan.Statement, str],
                      parent_type: GraphQLObjectType, source: Any,
                      field_details_list: Any, path: Any, position_context: Any) -> Any:
        st, sql = planned
        context = self.context_value
        try:
            viewer = await context.viewer()
            st.where.args[0] = viewer.scope.org_id
            text = await st.answer(context.db, sql)
        except AuthError:
            return await self._resolved(parent_type, source, field_details_list, path,
                                        position_context)
        except Exception:
            log.warning("a planned statement failed; the resolvers answer", exc_info=True)
            return await self._resolved(parent_type, source, field_details_list, path,
                                        position_context)
        return None if text is None else orjson.Fragment(text)

    async def _resolved(self, parent_type: GraphQLObjectType, source: Any,
                        field_details_list: Any, path: Any, position_context: Any) -> Any:
        """The field as the resolvers answer it, errors and all."""
        result = super().execute_field(parent_type, source, field_details_list, path,
                                       position_context)
        return await result if inspect.isawaitable(result) else result


def _planning(executor: Any) -> bool:
    if executor.operation.operation is not OperationType.QUERY:
        return False
    manager = executor.middleware_manager
    if manager is not None and manager.middlewares:
        return False
    services = getattr(executor.context_value, "services", None)
    settings = getattr(services, "settings", None)
    return getattr(settings, "read_planner", "off") == "on"
