"""Every relation is fetched through per-request DataLoaders: a page of contracts with
their lines, progress, coils and certificates costs a fixed number of SQL statements,
however many rows the page holds."""

from __future__ import annotations

from domain.db import count_statements
from tests.support.api import Api

PAGE = """query($first: Int!) { contracts(first: $first) { nodes { number customer { code }
    lines { lineNo spec { grade } deliverySite { code }
      progress { currentStage shareDone isLate stages { stage completed } }
      coils(first: 10) { nodes { coilNo heat { heatNo } certificate { certNo } } } }
    settlements { number } } } }"""


async def _statements(api: Api, first: int, token: str) -> tuple[int, dict]:
    await api.data("{ viewer { subject } }", as_=token)  # warm the organization cache
    with count_statements() as seen:
        data = await api.data(PAGE, {"first": first}, as_=token)
    return len(seen), data


async def test_page_of_twenty_costs_a_fixed_number_of_statements(
    demo_api: Api, tokens: dict[str, str]
) -> None:
    small, small_data = await _statements(demo_api, 2, tokens["mill"])
    large, data = await _statements(demo_api, 20, tokens["mill"])

    contracts = data["contracts"]["nodes"]
    lines = [line for c in contracts for line in c["lines"]]
    coils = [coil for line in lines for coil in line["coils"]["nodes"]]
    assert len(contracts) == 20 and len(lines) > 20 and len(coils) > 20, "data too thin"
    assert len(small_data["contracts"]["nodes"]) == 2
    assert large == small, f"{large} statements for 20 contracts, {small} for 2"
    assert large <= 12


async def test_customer_page_costs_the_same_fixed_number(
    demo_api: Api, tokens: dict[str, str]
) -> None:
    small, _ = await _statements(demo_api, 2, tokens["faw"])
    large, data = await _statements(demo_api, 20, tokens["faw"])
    assert len(data["contracts"]["nodes"]) == 20
    assert large == small
