"""Per-request DataLoaders: one batched statement per (thing, key) however many rows ask.

One convention for every area. A loader is a class named ``<Thing>By<Key>Loader`` (a
:class:`strawberry.dataloader.DataLoader`), written in its area's
``resolvers/<area>/loaders.py`` and registered with ``@Loaders.register``. Resolvers reach
it as ``info.context.loaders.<thing>_by_<key>``: the registry makes it on first use, once per
request and viewer, so batching never mixes what two organizations may see and the cache
dies with the request. The shared loaders of parties live here.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from strawberry.dataloader import DataLoader

from domain import parties
from domain.db import Executor
from domain.tenancy import Scope

K = TypeVar("K")
V = TypeVar("V")
L = TypeVar("L", bound="Loader[Any, Any]")

_NAME = re.compile(r"(?:[A-Z][a-z0-9]*)+By(?:[A-Z][a-z0-9]*)+Loader")


def attribute_of(kind: type[Any]) -> str:
    """``PurchasePlanByIdLoader`` -> ``purchase_plan_by_id``: where resolvers find it."""
    name = kind.__name__
    if not _NAME.fullmatch(name):
        raise TypeError(f"a loader is named <Thing>By<Key>Loader, not {name}")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Loader")).lower()


class Loaders:
    """The registry: every area's loader classes, and this request's loaders made from them
    on first use (``loaders.coil_by_id`` makes a :class:`CoilByIdLoader` once)."""

    _kinds: ClassVar[dict[str, type[Loader[Any, Any]]]] = {}
    _discovered: ClassVar[bool] = False

    def __init__(self, db: Executor, scope: Scope, redis: Any = None,
                 subject: str | None = None, own_org_id: int | None = None) -> None:
        self.db = db
        self.scope = scope
        # The viewer's user and its own organization (the mill's, for staff): what is
        # addressed to one user (the inbox) is fenced by them, not by the scope alone.
        self.subject = subject
        self.own_org_id = own_org_id
        # Live state (latest fixes); None reads positions from the database alone.
        self.redis = redis
        self._made: dict[str, Loader[Any, Any]] = {}
        self.discover()

    @classmethod
    def register(cls, kind: type[L]) -> type[L]:
        """Class decorator: ``kind`` becomes ``loaders.<thing>_by_<key>``."""
        name = attribute_of(kind)
        known = cls._kinds.get(name)
        if known is not None and (known.__module__, known.__qualname__) != (
                kind.__module__, kind.__qualname__):
            raise TypeError(f"{name} is already {known.__module__}.{known.__qualname__}")
        cls._kinds[name] = kind
        return kind

    @classmethod
    def discover(cls) -> None:
        """Import every area's ``loaders`` module once, so that its loaders register."""
        if cls._discovered:
            return
        import resolvers

        for area in pkgutil.iter_modules(resolvers.__path__):
            if area.ispkg and importlib.util.find_spec(f"resolvers.{area.name}.loaders"):
                importlib.import_module(f"resolvers.{area.name}.loaders")
        cls._discovered = True

    @classmethod
    def names(cls) -> frozenset[str]:
        cls.discover()
        return frozenset(cls._kinds)

    def __getattr__(self, name: str) -> Any:
        # Only reached for what is not a plain attribute: the loaders, made lazily.
        if name.startswith("_"):
            raise AttributeError(name)
        made = self._made.get(name)
        if made is None:
            kind = self._kinds.get(name)
            if kind is None:
                raise AttributeError(f"no loader {name!r}: register a "
                                     f"<Thing>By<Key>Loader with @Loaders.register")
            made = self._made[name] = kind(self)
        return made


class Loader(DataLoader[K, V], Generic[K, V]):
    """A loader of one request: :meth:`batch_load` answers every key of one batch."""

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


class RowsLoader(Loader[K, Any]):
    """Rows fetched by a key they carry (``key``, ``id`` unless told); None when not found
    or not the viewer's."""

    key: ClassVar[str] = "id"

    @abstractmethod
    async def fetch(self, keys: Sequence[K]) -> Sequence[Any]:
        """The rows of ``keys`` the viewer may see, in any order."""

    async def batch_load(self, keys: list[K]) -> list[Any]:
        found = {getattr(row, self.key): row for row in await self.fetch(keys)}
        return [found.get(k) for k in keys]


class MappedLoader(Loader[K, Any]):
    """One value per key, fetched as a mapping; None for a key it lacks."""

    @abstractmethod
    async def fetch(self, keys: Sequence[K]) -> Mapping[K, Any]:
        """The values of ``keys``, by key."""

    async def batch_load(self, keys: list[K]) -> list[Any]:
        found = await self.fetch(keys)
        return [found.get(k) for k in keys]


class GroupedLoader(Loader[K, list[Any]]):
    """A list per key, fetched as a mapping; an empty list for a key it lacks."""

    @abstractmethod
    async def fetch(self, keys: Sequence[K]) -> Mapping[K, list[Any]]:
        """The lists of ``keys``, by key."""

    async def batch_load(self, keys: list[K]) -> list[list[Any]]:
        found = await self.fetch(keys)
        return [found.get(k, []) for k in keys]


# Keys of a page: (parent id, page size + 1, what the page starts after).
PageKey = tuple[int, int, Any]


class PagedLoader(Loader[PageKey, list[Any]]):
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


@Loaders.register
class OrganizationByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await parties.organizations_by_ids(self.db, self.scope, keys)


@Loaders.register
class SiteByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await parties.sites_by_ids(self.db, self.scope, keys)


@Loaders.register
class SpecByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await parties.specs_by_ids(self.db, self.scope, keys)
