"""The one actor: what it may see, which roles it may act in, for which customer. A
customer's token that carries mill roles does not get in at all."""

from __future__ import annotations

import jwt
import pytest

from domain.actor import Actor, Permissions
from domain.errors import Forbidden, NotFound
from resolvers.relay import to_global_id
from tests.support.api import SECRET, Api
from tests.support.factory import build

SALES = Actor("s@mill", 1, frozenset({"sales"}), False)
CUSTOMER = Actor("c@cust", 7, frozenset({"customer"}), True)


def test_a_customer_acts_only_for_itself_and_the_mill_for_any_customer() -> None:
    assert CUSTOMER.acts_for(7) and not CUSTOMER.acts_for(8)
    assert SALES.acts_for(7) and SALES.acts_for(8)
    with pytest.raises(NotFound) as refused:
        CUSTOMER.check_acts_for(8)
    assert refused.value.field == "customerId"


def test_a_permission_table_refuses_with_the_roles_it_names() -> None:
    table = Permissions({"confirm": ("sales", "admin"), "ask": ("customer", "sales")})
    table.check(SALES, "confirm")
    table.check(CUSTOMER, "ask")
    with pytest.raises(Forbidden) as refused:
        table.check(CUSTOMER, "confirm")
    assert refused.value.message == "this needs the role sales or admin"
    # A customer token never acts in a mill role, even if it carries one.
    sneaky = Actor("c@cust", 7, frozenset({"customer", "sales"}), True)
    with pytest.raises(Forbidden):
        table.check(sneaky, "confirm")


def test_a_process_acts_under_its_own_name_as_the_mill() -> None:
    worker = Actor.system("keylink:push-worker")
    assert worker.subject == "keylink:push-worker"
    assert not worker.is_customer and worker.scope.org_id is None
    assert worker.may(("sales", "admin")) and worker.acts_for(7)
    # Claiming the process's role in a token does not make a person one.
    person = Actor("p@mill", 1, frozenset({"system", "sales"}), False)
    assert not person.may(("admin",))


async def test_customer_token_carrying_mill_roles_is_refused(api: Api) -> None:
    w = await build(api.db)
    forged = jwt.encode({"sub": "x", "org": "FAW-VW", "roles": ["customer", "quality"],
                         "exp": 4102444800}, SECRET, algorithm="HS256")
    q = """mutation($id: ID!) { issueCertificate(input: {coilId: $id, yieldStrengthMpa: "1",
           tensileStrengthMpa: "2", elongationPct: "3"}) { errors { code } } }"""
    body = await api.query(q, {"id": to_global_id("Coil", w.coils["GALANZ"][1])}, as_=forged)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await api.db.fetchval("SELECT count(*) FROM quality_certificate") == 2
