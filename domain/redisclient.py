"""The one way into Redis: a client for ``REDIS_URL``, one server or a cluster.

``redis://`` and ``rediss://`` (with TLS) name one server, as redis-py reads them.
``redis+cluster://`` and ``rediss+cluster://`` name a Redis Cluster by one or more of its
nodes, comma-separated (``redis+cluster://:secret@10.0.0.1:6379,10.0.0.2:6379``); the
client learns the others and the slot map from them and follows MOVED and ASK.

Everything that uses Redis (the ingester's live state, the API's live bus and live
reads, the rate limits) takes its client from :func:`connect`, so every one of them
works against either. Keys a command or script touches together share a hash tag (see
``tracking/live.py`` for the live state's layout): no command crosses slots.
"""

from __future__ import annotations

import weakref
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

Client = aioredis.Redis | RedisCluster

CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}
# Sharded pub/sub (SPUBLISH, SSUBSCRIBE) came with Redis 7.
SHARDED_SINCE = (7, 0)


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def connect(url: str, *, fail_fast: bool = False) -> Client:
    """A client for ``url``. ``fail_fast``: short timeouts and one immediate retry, for a
    writer that must never stall for long (a connection broken by a restart reconnects)."""
    options: dict[str, Any] = {}
    if fail_fast:
        options = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0,
                   "retry": Retry(NoBackoff(), 1)}
    parts = urlsplit(url)
    if parts.scheme not in CLUSTER_SCHEMES:
        client: aioredis.Redis = aioredis.Redis.from_url(url, **options)
        return client
    nodes = []
    for location in parts.netloc.rpartition("@")[2].split(","):
        host, _, port = location.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a cluster URL names its nodes as host:port: {location!r}")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))
    user, _, password = parts.netloc.rpartition("@")[0].partition(":")
    if fail_fast:
        # The cluster client retries on its own (following MOVED, refreshing the map).
        options.pop("retry")
    return RedisCluster(
        startup_nodes=nodes, username=unquote(user) or None,
        password=unquote(password) or None, ssl=CLUSTER_SCHEMES[parts.scheme], **options)


def is_cluster(client: Any) -> bool:
    return isinstance(client, RedisCluster)


_SHARDED: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


async def sharded_pubsub(client: Any) -> bool:
    """Whether live messages go by SPUBLISH/SSUBSCRIBE: on a cluster whose every primary
    runs Redis 7 or later. One server, or an older cluster, uses PUBLISH/SUBSCRIBE (which
    a cluster broadcasts to every node). Asked once per client."""
    if not isinstance(client, RedisCluster):
        return False
    known = _SHARDED.get(client)
    if known is None:
        found = await client.info("server", target_nodes=RedisCluster.PRIMARIES)
        infos = found.values() if all(isinstance(v, dict) for v in found.values()) else [found]
        known = all(_version(str(i.get("redis_version", "0"))) >= SHARDED_SINCE for i in infos)
        _SHARDED[client] = known
    return known


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:2] if p.isdigit())
