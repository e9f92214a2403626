"""Documents known by their hash: parsed and validated once, and persisted queries.

Parsing and validating a document depend on its text and the schema only, so both are
done once per text and kept in a :class:`DocumentCache` (least recently used first out,
bounded in entries and in bytes of text). What depends on the request is checked every
time: the limits of :mod:`api.limits` (cost follows the variables), the token, the
variables. Only documents that validated clean are kept as valid; one with errors is
validated again when it comes back, so that its errors are reported afresh.

Automatic persisted queries as Apollo Client sends them: a request with
``extensions.persistedQuery = {version: 1, sha256Hash}`` and no query asks for a query
the server has seen; unknown, it is answered ``PersistedQueryNotFound`` (code
``PERSISTED_QUERY_NOT_FOUND``) and the client sends it again with the query, which is
then kept under its hash (:class:`PersistedQueries`, bounded like the cache). A query
whose hash does not match is refused.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension

# How many documents the cache holds, and how many bytes of their text (a parsed tree
# takes some ten times its text).
DOCUMENTS_MAX_ENTRIES = 1000
DOCUMENTS_MAX_BYTES = 4 * 1024 * 1024
# The persisted queries' store: hash to text.
PERSISTED_MAX_ENTRIES = 2000
PERSISTED_MAX_BYTES = 8 * 1024 * 1024
# A document larger than this is parsed and validated each time, never kept.
LARGEST_KEPT = 256 * 1024

V = TypeVar("V")


class Bounded(Generic[V]):
    """A least-recently-used map bounded in entries and in the bytes its values weigh."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> V | None:
        found = self._items.get(key)
        if found is None:
            return None
        self._items.move_to_end(key)
        return found[0]

    def put(self, key: str, value: V, weight: int) -> None:
        if weight > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._items[key] = (value, weight)
        self.bytes += weight
        while len(self._items) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, dropped) = self._items.popitem(last=False)
            self.bytes -= dropped


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Document:
    """A parsed document and whether it validated clean."""

    node: DocumentNode
    valid: bool = False


class DocumentCache:
    def __init__(self, max_entries: int = DOCUMENTS_MAX_ENTRIES,
                 max_bytes: int = DOCUMENTS_MAX_BYTES) -> None:
        self._documents: Bounded[Document] = Bounded(max_entries, max_bytes)

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, query: str) -> Document | None:
        return self._documents.get(sha256(query))

    def parse(self, query: str, **options: Any) -> Document:
        """The document of ``query``, parsed now unless known; raises GraphQLSyntaxError."""
        key = sha256(query)
        found = self._documents.get(key)
        if found is not None:
            return found
        document = Document(parse(query, **options))
        if len(query) <= LARGEST_KEPT:
            self._documents.put(key, document, len(query.encode()))
        return document


class CachedDocuments(SchemaExtension):
    """Parses through the cache, and skips validating a document that validated clean
    before. Runs after :class:`api.limits.OperationLimits`, whose checks (per request)
    come first: a refused request is neither validated nor marked."""

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache
        self.document: Document | None = None

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.query and ctx.graphql_document is None:
            # A syntax error propagates as strawberry's parser would raise it.
            self.document = self.cache.parse(ctx.query, **ctx.parse_options)
            ctx.graphql_document = self.document.node
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = self.document
        if document is not None and document.valid and ctx.pre_execution_errors is None:
            ctx.pre_execution_errors = []  # strawberry validates only when this is None
        yield
        if document is not None and ctx.pre_execution_errors == []:
            document.valid = True


PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"


class PersistedQueries:
    """Queries by their SHA-256, as Apollo's automatic persisted queries send them."""

    def __init__(self, max_entries: int = PERSISTED_MAX_ENTRIES,
                 max_bytes: int = PERSISTED_MAX_BYTES) -> None:
        self._queries: Bounded[str] = Bounded(max_entries, max_bytes)

    def __len__(self) -> int:
        return len(self._queries)

    def resolve(self, query: str | None, extensions: dict[str, Any] | None
                ) -> tuple[str | None, GraphQLError | None]:
        """The query to run for a request and its refusal, if any. A request without a
        persisted query passes as it is."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return query, None
        if not isinstance(persisted, dict) or persisted.get("version") != 1 \
                or not isinstance(persisted.get("sha256Hash"), str):
            return None, _refusal("persistedQuery must be {version: 1, sha256Hash}",
                                  "BAD_REQUEST")
        digest = persisted["sha256Hash"].lower()
        if query is None:
            found = self._queries.get(digest)
            if found is None:
                return None, _refusal("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
            return found, None
        if sha256(query) != digest:
            return None, _refusal("provided sha does not match query", "BAD_REQUEST")
        if len(query) <= LARGEST_KEPT:
            self._queries.put(digest, query, len(query.encode()))
        return query, None


def _refusal(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})
