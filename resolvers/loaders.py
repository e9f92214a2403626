"""Per-request DataLoaders: one batched statement per (thing, key) however many rows ask.

One convention for every area. A loader is a class named ``<Thing>By<Key>Loader`` on one
of the bases below (:class:`RowsLoader`, :class:`MappedLoader`, :class:`GroupedLoader`,
:class:`PagedLoader`), written in its area's ``resolvers/<area>/loaders.py``, which imports
the domain and this module only. A resolver imports the class from there and asks the
request's registry for it: ``loaders(info).get(CoilByIdLoader).load(pk)``. The registry
makes each loader on first use, once per request and viewer, so batching never mixes what
two organizations may see and the cache dies with the request; the type of what ``get``
returns is the class asked for, so its keys are type-checked. The shared loaders of
parties live here.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from strawberry.dataloader import DataLoader

from domain import parties
from domain.actor import Actor
from domain.db import Executor
from domain.tenancy import Scope

K = TypeVar("K")
V = TypeVar("V")
L = TypeVar("L", bound="Loader[Any, Any]")

_NAME = re.compile(r"(?:[A-Z][a-z0-9]*)+By(?:[A-Z][a-z0-9]*)+Loader")


class Loaders:
    """The registry of one request: each loader class asked for with :meth:`get`, made on
    first use for this request's viewer."""

    def __init__(self, db: Executor, scope: Scope, redis: Any = None,
                 actor: Actor | None = None) -> None:
        self.db = db
        self.scope = scope
        # Who reads: what is addressed to one user (the inbox) is fenced by its subject
        # and own organization (the mill's, for staff), not by the scope alone.
        self.actor = actor
        # Live state (latest fixes); None reads positions from the database alone.
        self.redis = redis
        self._made: dict[type[Loader[Any, Any]], Loader[Any, Any]] = {}

    def get(self, kind: type[L]) -> L:
        """This request's ``kind`` loader, made the first time it is asked for."""
        made = self._made.get(kind)
        if made is None:
            made = self._made[kind] = kind(self)
        assert isinstance(made, kind)
        return made


class Loader(DataLoader[K, V], Generic[K, V]):
    """A loader of one request: :meth:`batch_load` answers every key of one batch.

    A loader is named ``<Thing>By<Key>Loader`` (what it loads, by what): any other name is
    refused when the class is defined, except for the bases declared with ``base=True``."""

    def __init_subclass__(cls, base: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not base and not _NAME.fullmatch(cls.__name__):
            raise TypeError(f"a loader is named <Thing>By<Key>Loader, not {cls.__name__}")

    def __init__(self, loaders: Loaders) -> None:
        super().__init__(self.batch_load)
        self.loaders = loaders

    @property
    def db(self) -> Executor:
        return self.loaders.db

    @property
    def scope(self) -> Scope:
        return self.loaders.scope

    @abstractmethod
    async def batch_load(self, keys: list[K]) -> list[V]:
        """The values of ``keys``, in their order, from one statement."""


class RowsLoader(Loader[K, Any], base=True):
    """Rows fetched by a key they carry (``key``, ``id`` unless told); None when not found
    or not the viewer's."""

    key: ClassVar[str] = "id"

    @abstractmethod
    async def fetch(self, keys: Sequence[K]) -> Sequence[Any]:
        """The rows of ``keys`` the viewer may see, in any order."""

    async def batch_load(self, keys: list[K]) -> list[Any]:
        found = {getattr(row, self.key): row for row in await self.fetch(keys)}
        return [found.get(k) for k in keys]


class MappedLoader(Loader[K, Any], base=True):
    """One value per key, fetched as a mapping; None for a key it lacks."""

    @abstractmethod
    async def fetch(self, keys: Sequence[K]) -> Mapping[K, Any]:
        """The values of ``keys``, by key."""

    async def batch_load(self, keys: list[K]) -> list[Any]:
        found = await self.fetch(keys)
        return [found.get(k) for k in keys]


class GroupedLoader(Loader[K, list[Any]], base=True):
    """A list per key, fetched as a mapping; an empty list for a key it lacks."""

    @abstractmethod
    async def fetch(self, keys: Sequence[K]) -> Mapping[K, list[Any]]:
        """The lists of ``keys``, by key."""

    async def batch_load(self, keys: list[K]) -> list[list[Any]]:
        found = await self.fetch(keys)
        return [found.get(k, []) for k in keys]


# Keys of a page: (parent id, page size + 1, what the page starts after).
PageKey = tuple[int, int, Any]


class PagedLoader(Loader[PageKey, list[Any]], base=True):
    """Pages of children by parent: one statement per distinct page shape (size, start),
    so a page of parents, all asking the same shape, costs one."""

    @abstractmethod
    async def fetch(self, parents: list[int], limit: int, after: Any) -> Mapping[int, list[Any]]:
        """Each parent's page of at most ``limit`` children after ``after``."""

    async def batch_load(self, keys: list[PageKey]) -> list[list[Any]]:
        shapes: dict[tuple[int, Any], list[int]] = defaultdict(list)
        for parent, limit, after in keys:
            shapes[(limit, after)].append(parent)
        pages: dict[PageKey, list[Any]] = {}
        for (limit, after), parents in shapes.items():
            found = await self.fetch(parents, limit, after)
            for parent in parents:
                pages[(parent, limit, after)] = found.get(parent, [])
        return [pages[k] for k in keys]


# Parties: every area refers to them.


class OrganizationByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await parties.organizations_by_ids(self.db, self.scope, keys)


class SiteByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await parties.sites_by_ids(self.db, self.scope, keys)


class SpecByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await parties.specs_by_ids(self.db, self.scope, keys)
