"""The one actor: what it may see, which roles it may act in, for which customer."""

from __future__ import annotations

import pytest

from domain.actor import Actor, Permissions
from domain.errors import Forbidden, NotFound

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
