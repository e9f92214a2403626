"""`schema.graphql` is the exported SDL: it must match the schema in code, and every type,
field and argument must say what it is."""

from graphql import GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from api.schema import build_schema, sdl
from settings import PROJECT_ROOT


def test_schema_graphql_matches_code() -> None:
    exported = (PROJECT_ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert exported == sdl(), "schema.graphql is stale: run `python -m api.schema > schema.graphql`"


def test_every_type_field_and_argument_is_described() -> None:
    schema = build_schema()._schema
    missing = []
    for name, t in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not t.description:
            missing.append(name)
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for fname, f in t.fields.items():
                if not f.description:
                    missing.append(f"{name}.{fname}")
                for aname, a in getattr(f, "args", {}).items():
                    if not a.description:
                        missing.append(f"{name}.{fname}({aname})")
    assert missing == []
