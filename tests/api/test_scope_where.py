"""The WHERE clause every filtered list read is built with: ``$1`` is the scope's
organization, and each further value gets the next placeholder in the order it is bound."""

from __future__ import annotations

from domain.tenancy import Scope


def test_a_customer_scope_binds_its_organization_first() -> None:
    where = Scope.customer(7).where(Scope.owned("c.customer_org_id"))
    where.add(f"c.status = ANY({where.arg(['open'])}::text[])")
    where.add(f"c.id < {where.arg(40)}")
    assert where.args == [7, ["open"], 40]
    assert where.sql() == ("($1::bigint IS NULL OR c.customer_org_id = $1::bigint)"
                           " AND c.status = ANY($2::text[]) AND c.id < $3")


def test_the_mills_scope_binds_null_and_each_clause_is_its_own() -> None:
    first = Scope.everything().where("true")
    second = Scope.everything().where("true")
    assert first.arg(5) == "$2"
    assert second.args == [None]
    assert second.sql() == "true"


def test_conditions_whose_value_is_absent_are_left_out() -> None:
    where = Scope.customer(3).where("true")
    where.any_of("r.reason", [])
    where.given(None, "r.device_code = {}::text")
    where.any_of("r.reason", ("schema",))
    where.given(0, "r.line_id = {}")
    assert where.args == [3, ["schema"], 0]
    assert where.sql() == "true AND r.reason = ANY($2::text[]) AND r.line_id = $3"
