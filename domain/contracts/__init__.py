"""Contracts and their lines: the records, the state machine and its permission table
(model), how they are read (reads), ordering, creating, confirming and amending them
(writes), a new contract's lines completed from the customer's preferences (order_lines),
the stages a line goes through (stage_routes) and what production records of them
(production).

The package re-exports the model, reads and writes, so that ``from domain import
contracts`` reads as the one area it is."""

from domain.contracts.model import (
    MIN_PRODUCTION_TIME,
    PERMISSIONS,
    TRANSITIONS,
    Contract,
    ContractLine,
    check_transition,
)
from domain.contracts.order_lines import NewContractLine
from domain.contracts.reads import (
    ContractFilter,
    ContractOrder,
    contracts_by_ids,
    contracts_by_numbers,
    lines_by_contract_ids,
    lines_by_ids,
    list_contracts,
)
from domain.contracts.writes import (
    AMENDABLE,
    amend_line,
    confirm_contract,
    create_contract,
    place_order,
)

__all__ = [
    "AMENDABLE",
    "MIN_PRODUCTION_TIME",
    "PERMISSIONS",
    "TRANSITIONS",
    "Contract",
    "ContractFilter",
    "ContractLine",
    "ContractOrder",
    "NewContractLine",
    "amend_line",
    "check_transition",
    "confirm_contract",
    "contracts_by_ids",
    "contracts_by_numbers",
    "create_contract",
    "lines_by_contract_ids",
    "lines_by_ids",
    "list_contracts",
    "place_order",
]
