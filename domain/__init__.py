"""Keylink's domain layer: dataclasses, business rules and the SQL that reads and writes them.

It knows nothing of GraphQL or MQTT. Every customer-scoped read goes through
:class:`domain.tenancy.Scope`, the one place where an organization's data is fenced off.
"""
