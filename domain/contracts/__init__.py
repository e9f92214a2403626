"""Contracts and their lines: the records, the state machine and its permission table
(model), how they are read (reads), ordering, creating, confirming and amending them
(writes), a new contract's lines completed from the customer's preferences (order_lines),
the stages a line goes through (stage_routes) and what production records of them
(production).
"""
