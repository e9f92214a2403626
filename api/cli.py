"""The `keylink` command. Every setting comes from the environment (see README).

Exit codes: 0 done; 1 the work failed (a migration, a server); 2 the command
cannot start as configured (a setting missing or malformed), with a message
that names the variable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import UTC
from typing import TYPE_CHECKING

from settings import Settings, SettingsError

if TYPE_CHECKING:
    from domain.actor import Actor
    from domain.db import Database
    from domain.feeds.batch import BatchResult

DESCRIPTION = """\
Keylink: the GraphQL gateway and MQTT ingester between the steel mill and its
key customers. Settings come from environment variables (DATABASE_URL,
KEYLINK_JWT_SECRET, ...; the README lists them all).

New here? `keylink dev` starts everything on this machine and prints the URLs
and ready-made tokens."""


class UsageError(Exception):
    """The command cannot run as configured: exit 2 with this message."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Callable[[Settings, argparse.Namespace], int] = args.command
    settings: Settings | None = None
    try:
        settings = Settings.from_env()
        return command(settings, args)
    except (SettingsError, UsageError) as exc:
        print(f"keylink {args.name}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # Only the operator's DATABASE_URL: `keylink dev`'s own server failing is a fault.
        if settings is None or not settings.database_url or not _database_out_of_reach(exc):
            raise
        print(f"keylink {args.name}: cannot use the database at DATABASE_URL "
              f"({_database_address(settings.database_url)}): {exc}", file=sys.stderr)
        return 1


# What a database that cannot be used at all raises (SQLSTATE classes and codes): no
# connection, refused credentials, no such database, not accepting connections yet.
_UNREACHABLE_STATES = ("08", "28", "3D", "57P03", "53300")


def _database_out_of_reach(exc: BaseException) -> bool:
    """Whether connecting to the database failed (a wrong DATABASE_URL, a server that is
    down), as opposed to a fault in what was done once connected."""
    import asyncpg

    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return state.startswith(_UNREACHABLE_STATES)
    if not isinstance(exc, OSError):
        return False
    tb = exc.__traceback__
    while tb is not None:  # raised while asyncpg was connecting, not by a file or a broker
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith("asyncpg"):
            return True
        tb = tb.tb_next
    return False


def _database_address(url: str) -> str:
    """Host, port and database of a PostgreSQL URL, never its password."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url)
    host = parts.hostname or parse_qs(parts.query).get("host", ["localhost"])[0]
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path or '/'}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keylink", description=DESCRIPTION, formatter_class=_formatter,
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def command(name: str, run: Callable[[Settings, argparse.Namespace], int], summary: str,
                details: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=summary, description=f"{summary}\n\n{details}", formatter_class=_formatter,
        )
        sub.set_defaults(command=run, name=name)
        return sub

    dev = command("dev", _dev, "Run everything on this machine, with demo data.", DEV_HELP)
    dev.add_argument("--contracts", type=_positive, default=400, metavar="N",
                     help="demo contracts to create on first start (default: 400)")
    dev.add_argument("--port", type=_positive, metavar="P",
                     help="API port, used as given (default: KEYLINK_PORT, or a free "
                          "port when that one is taken)")

    serve = command("serve", _serve, "Serve the API (production).", SERVE_HELP)
    serve.add_argument("--workers", type=_positive, metavar="N",
                       help="processes serving the one port (default: KEYLINK_WORKERS, "
                            "or one per core)")
    command("migrate", _migrate, "Apply pending database migrations.", MIGRATE_HELP)

    seed = command("seed-demo", _seed_demo, "Load the demo data into a database.", SEED_HELP)
    seed.add_argument("--contracts", type=_positive, default=400, metavar="N",
                      help="how many contracts to create (default: 400)")
    seed.add_argument("--seed", type=int, default=7, metavar="S",
                      help="random seed; the same seed gives the same data (default: 7)")
    seed.add_argument("--records-out", metavar="DIR",
                      help="write the demo's plant records as NDJSON files, one per kind, "
                           "into DIR instead of loading a database")

    ingest = command("ingest", _ingest, "Run the MQTT ingester.", INGEST_HELP)
    ingest_mode = ingest.add_mutually_exclusive_group()
    ingest_mode.add_argument(
        "--drain", metavar="CLIENT_ID",
        help="take over the broker session of an ingester that crashed or was removed: "
             "leave the group with it, store what the broker queued for it, end it")
    ingest_mode.add_argument(
        "--members", action="store_true",
        help="list the sessions of KEYLINK_INGEST_GROUP and whether each one's ingester "
             "is running")
    command("push", _push, "Run the push worker: rules, inbox, webhooks, e-mail.", PUSH_HELP)

    sim = command("simulate", _simulate, "Publish simulated device traffic.", SIMULATE_HELP)
    sim.add_argument("--rate", type=_positive_float, default=20.0, metavar="MSG_PER_S",
                     help="messages a second, all devices together (default: 20)")
    sim.add_argument("--duration", type=_positive_float, metavar="S",
                     help="stop after this many seconds (default: until Ctrl-C)")
    sim.add_argument("--vehicles", type=_positive, metavar="N",
                     help="simulate at most N vehicles, those under way first (default: all)")
    sim.add_argument("--bad-share", type=_share, default=0.01, metavar="F",
                     help="share of position messages sent bad: malformed JSON, 0/0 or a "
                          "jump, for the ingester to reject (default: 0.01)")

    devices = commands.add_parser(
        "devices", help="Manage tracking devices and their broker logins.",
        description=DEVICES_HELP, formatter_class=_formatter)
    device_commands = devices.add_subparsers(title="commands", metavar="COMMAND", required=True)
    passwd = device_commands.add_parser(
        "mosquitto-passwd", help="Write Mosquitto's password file from the device registry.",
        description=PASSWD_HELP, formatter_class=_formatter)
    passwd.set_defaults(command=_devices_passwd, name="devices mosquitto-passwd")
    passwd.add_argument("--out", metavar="FILE",
                        help="write the file here (replaced in one step); default: stdout")
    dynsec = device_commands.add_parser(
        "mosquitto-dynsec", help="Write the production broker's access config from the "
                                 "device registry.",
        description=DYNSEC_HELP, formatter_class=_formatter)
    dynsec.set_defaults(command=_devices_dynsec, name="devices mosquitto-dynsec")
    dynsec.add_argument("--out", metavar="FILE",
                        help="write the file here (replaced in one step); default: stdout")
    add = device_commands.add_parser(
        "add", help="Register a device and print its new broker password.",
        description=ADD_HELP, formatter_class=_formatter)
    add.set_defaults(command=_devices_add, name="devices add")
    add.add_argument("code", help="device code: its MQTT user name and topic level")
    add.add_argument("--kind", required=True, choices=DEVICE_KINDS)
    add.add_argument("--vehicle", metavar="CODE", help="vehicle the device is on")
    add.add_argument("--site", metavar="CODE", help="site a scanner is at")
    add.add_argument("--owntracks", metavar="[CODE/]DEVICE",
                     help="for an OwnTracks app: it publishes under owntracks/CODE/DEVICE, "
                          "logged in with the device code as user name and client id")

    listing = device_commands.add_parser(
        "list", help="List the registered devices as a table.", description=LIST_HELP,
        formatter_class=_formatter)
    listing.set_defaults(command=_devices_list, name="devices list")
    listing.add_argument("--kind", action="append", choices=DEVICE_KINDS,
                         help="only devices of this kind; repeat for several")
    state = listing.add_mutually_exclusive_group()
    state.add_argument("--enabled", dest="enabled", action="store_const", const=True,
                       help="only enabled devices")
    state.add_argument("--disabled", dest="enabled", action="store_const", const=False,
                       help="only disabled devices")
    listing.add_argument("--vehicle", metavar="CODE", help="only devices on this vehicle")
    listing.add_argument("--site", metavar="CODE", help="only devices at this site")
    for name, run, summary, details in (
            ("disable", _devices_disable, "Switch a device off: its messages are refused.",
             DISABLE_HELP),
            ("enable", _devices_enable, "Switch a disabled device back on.", ENABLE_HELP),
            ("rotate-password", _devices_rotate,
             "Give a device a new broker password and print it once.", ROTATE_HELP)):
        sub = device_commands.add_parser(name, help=summary, description=f"{summary}\n\n{details}",
                                         formatter_class=_formatter)
        sub.set_defaults(command=run, name=f"devices {name}")
        sub.add_argument("code", help="the device's code")
    bind = device_commands.add_parser(
        "bind", help="Bind a device to another vehicle, or to a site.", description=BIND_HELP,
        formatter_class=_formatter)
    bind.set_defaults(command=_devices_bind, name="devices bind")
    bind.add_argument("code", help="the device's code")
    target = bind.add_mutually_exclusive_group(required=True)
    target.add_argument("--vehicle", metavar="CODE", help="the vehicle it is on from now")
    target.add_argument("--site", metavar="CODE", help="the site it is at from now")

    token = command("token", _token, "Print a signed bearer token.", TOKEN_HELP)
    token.add_argument("--org", required=True, metavar="CODE",
                       help="organization code the token is scoped to, e.g. FAW-VW")
    token.add_argument("--role", required=True, action="append", metavar="ROLE",
                       help="customer; or one or more of sales, production, quality, "
                            "logistics, finance, admin; repeat or separate with commas; or "
                            "integration, for a plant system feeding records (with --kinds)")
    token.add_argument("--kinds", action="append", metavar="KIND,...",
                       help="for an integration token: the record kinds it may feed "
                            "(organization, ...), separated by commas, or '*' for every kind")
    token.add_argument("--sub", metavar="NAME",
                       help="who the token stands for, shown in logs (default: cli-<org>)")
    token.add_argument("--ttl", type=_positive, default=3600, metavar="SECONDS",
                       help="lifetime in seconds (default: 3600)")

    feed = command("import", _import, "Apply a file of records (NDJSON) to the database.",
                   IMPORT_HELP)
    feed.add_argument("file", metavar="FILE",
                      help="one record a line; gzipped or not; - reads standard input")
    feed.add_argument("--dry-run", action="store_true",
                      help="check and apply everything, then roll back: nothing is written")
    feed.add_argument("--mode", choices=("all", "each"), default="all",
                      help="all: nothing is written unless every record is accepted "
                           "(default); each: rejected records are left out, the rest written")
    feed.add_argument("--batch", type=_uuid, metavar="UUID",
                      help="the batch's id, to follow it from elsewhere (default: a new one)")
    feed.add_argument("--database-url", metavar="URL",
                      help="the database to write to (default: DATABASE_URL)")
    feed.add_argument("--json", action="store_true",
                      help="print the result as JSON (as POST /feeds/records answers)")
    return parser


DEV_HELP = """\
Starts PostgreSQL, Redis and an MQTT broker (Mosquitto, or a pure-Python broker
when Mosquitto is not installed) with their data under KEYLINK_STATE_DIR
(default .keylink/ of the source checkout, or of the working directory when
installed as a package), applies migrations, loads demo data on the first start
and serves the API. It prints the GraphQL URL (open it in a browser for GraphiQL),
the MQTT address and a token for each demo organization, and writes them to
KEYLINK_STATE_DIR/endpoints.json. Run it again and it picks up where it left off.

Set DATABASE_URL, REDIS_URL or MQTT_URL to use your own servers instead.
Ctrl-C stops everything it started."""

SERVE_HELP = """\
Serves /graphql, the plant's record feeds (/feeds/...), /healthz, /readyz and
/metrics on KEYLINK_HOST:KEYLINK_PORT.
Needs DATABASE_URL and a token key: KEYLINK_JWT_SECRET (HS256),
KEYLINK_JWT_PUBLIC_KEY (RS256) or KEYLINK_JWT_JWKS_URL (an identity provider's
keys, with KEYLINK_JWT_ISSUER and KEYLINK_JWT_AUDIENCE). REDIS_URL is optional
(live fan-out).
It does not migrate: run `keylink migrate` first, once per release.

It runs --workers processes (default: one per core) on the one port; the kernel
hands each new connection to one of them. Every worker serves everything,
subscriptions included; /metrics adds up all of them. SIGTERM or Ctrl-C stops
them all, each finishing what it serves; a worker that dies is started again."""

MIGRATE_HELP = """\
Applies the SQL files in KEYLINK_MIGRATIONS_DIR (by default those shipped in the
package) that DATABASE_URL has not seen yet, each in its own transaction, and
prints their names. Safe to run from several places at once. A failing file is
rolled back and named; a folder without any file is refused (exit 2)."""

SEED_HELP = """\
Fills DATABASE_URL (migrated, see `keylink migrate`) with demo organizations,
contracts, production progress, coils and settlements. Does nothing when the
demo data is already there. What the mill's own systems would feed goes in as
plant records, through the same checks and writes as a plant's own batch; with
--records-out DIR those records are written as files instead (01-organization.ndjson
to 12-shipment.ndjson, to be fed in file-name order), and no database is needed."""

TOKEN_HELP = """\
Signs with KEYLINK_JWT_SECRET, or KEYLINK_JWT_PRIVATE_KEY for RS256; when
neither is set, with the secret `keylink dev` keeps in KEYLINK_STATE_DIR, so
tokens work against a running `keylink dev`. The token carries KEYLINK_JWT_ISSUER
and KEYLINK_JWT_AUDIENCE when they are set, under the claim names
KEYLINK_JWT_ORG_CLAIM, KEYLINK_JWT_ROLES_CLAIM (and KEYLINK_JWT_KINDS_CLAIM).
Prints only the token, e.g.
  curl -H "Authorization: Bearer $(keylink token --org FAW-VW --role customer)" ...
A plant system feeding records (POST /feeds/records) gets a token of the mill's
organization with the role integration alone and the kinds it may write:
  keylink token --org BAOSTEEL --role integration --kinds organization,... --sub erp
('*' for every kind, those of later releases too)."""

IMPORT_HELP = """\
Applies a file of records, one JSON object a line ({"kind", "key", "version",
"data"} or {"kind", "key", "version", "retire": true}; see the README's section
for a plant's integrators), as POST /feeds/records does, in one transaction, as
the system `keylink:import` (which may write every kind). The file is read in
blocks as the records are applied, never held whole; a gzipped file (or input)
is unpacked as it is read. A progress bar over the file's bytes shows on a
terminal. At the end it prints what was applied, unchanged, stale, retired and
rejected, and the first rejected records by line, field and reason.
Exit codes: 0 every record accepted; 1 some rejected (mode all: nothing was
written; mode each: the rest was); 2 the command cannot start (no such file, no
DATABASE_URL, a batch id used before)."""

SIMULATE_HELP = """\
Reads the open shipment legs, their vehicles, devices and manifests from
DATABASE_URL and publishes to MQTT_URL what the devices would: GPS fixes of
trucks and rail wagons moving along their routes, AIS sentences from the ships'
gateways, coil label scans (plain numbers and GS1) at loading and unloading, and
a share of bad messages. Vehicles carry on from their last stored fix; some legs
set off during the run go slowly and turn late. One client publishes for every
device: the development broker takes that; a production broker needs a user
allowed to write keylink/v1/devices/#. `keylink dev` runs it on its own broker."""

INGEST_HELP = """\
Subscribes to the device topics through the shared group KEYLINK_INGEST_GROUP on
MQTT_URL (mqtt://user:password@host:port) with a persistent session under
KEYLINK_INGEST_CLIENT_ID, stores positions and scans in DATABASE_URL, and updates
the live state in REDIS_URL (optional). Run several for more throughput; each
needs its own client id (KEYLINK_INGEST_INSTANCE), stable across restarts. A
message is acknowledged only once stored or recorded as rejected.

SIGTERM or Ctrl-C leaves the group (when another ingester's session holds it),
stores everything its session still holds, and ends the session; the group's last
ingester keeps its session instead, so the broker queues for it until it is back.
An ingester that crashed leaves its session behind, and the broker keeps queueing
its share there: restart it with the same client id, or run
`keylink ingest --drain CLIENT_ID` to store what it holds and end it.
`keylink ingest --members` lists the group's sessions.
Metrics: http://KEYLINK_HOST:KEYLINK_INGEST_METRICS_PORT/metrics."""

PUSH_HELP = """\
Follows the domain events in DATABASE_URL from a durable cursor, matches them to
the push rules and delivers them: to the inbox (the `notifications` query and
subscription), to webhooks signed as Standard Webhooks (public addresses only,
unless in KEYLINK_WEBHOOK_ALLOW; retried with jittered exponential backoff, never
sooner than a receiver's Retry-After, dead-lettered after KEYLINK_PUSH_MAX_ATTEMPTS
tries) and by e-mail through KEYLINK_SMTP_URL; it also sends digests and runs the
other periodic jobs.
Run as many as you like: they share the work. SIGTERM or Ctrl-C stops it."""

DEVICES_HELP = """\
Devices log in to the broker with their device code as user name and client id;
the registry keeps their password hashes in Mosquitto's format. list, add,
disable, enable, rotate-password and bind do what the GraphQL API's device
queries and mutations do, as the actor keylink:cli, each change an event of the
outbox; mosquitto-dynsec and mosquitto-passwd write the broker's logins from the
registry."""

DYNSEC_HELP = """\
Writes the access config of config/mosquitto.conf (Mosquitto's dynamic-security
plugin, plugin_opt_config_file): every enabled device that has a password, allowed
to publish under its own topics only, to subscribe to nothing and to connect with
its code as client id only; and the ingesters' user with the password from
MQTT_URL, allowed only the shared subscription of KEYLINK_INGEST_GROUP. The plugin
reads the file when the broker starts: restart the broker after each change
(sessions and queued messages are kept)."""

PASSWD_HELP = """\
Writes every enabled device that has a password, and the ingesters' user with the
password from MQTT_URL, in Mosquitto's password-file format, for a broker that
checks logins only (config/mosquitto.conf uses `mosquitto-dynsec` instead). Reload
the broker (SIGHUP) after each change."""

ADD_HELP = """\
Adds a device to DATABASE_URL with a new random password, printed once (only its
hash is kept). Run `keylink devices mosquitto-dynsec` afterwards. An OwnTracks
app logs in with the device code as its user name and client id, so it publishes
under owntracks/CODE/DEVICE: --owntracks names DEVICE (or CODE/DEVICE)."""

LIST_HELP = """\
Prints the devices of DATABASE_URL in code order, one a line: code, kind, the
vehicle or site it is bound to, whether it is enabled, whether it has a broker
login (a password; only its hash is kept) and when it was registered."""

DISABLE_HELP = """\
The ingesters refuse its messages (reason disabled_device) within a second: they
follow the registry's changes (at the latest on their next full reload, every
KEYLINK_REGISTRY_REFRESH_S). Write the broker's access file again
(`keylink devices mosquitto-dynsec`) and restart the broker to refuse its login too."""

ENABLE_HELP = """\
Its messages are taken again within a second; write the
broker's access file again and restart the broker to let it log in."""

ROTATE_HELP = """\
Stores the hash of a new random password and prints the password once. Put it
into the device, then write the broker's access file again (`keylink devices
mosquitto-dynsec --out FILE`) and restart the broker: from then on only the new
password logs in. A device without a login gets its first one."""

BIND_HELP = """\
Binds the device to a vehicle or to a site in place of what it was bound to: a GPS
unit to a vehicle only (its positions are stored for it), a scanner or an AIS
gateway to either. Its next messages count for the new one within a second (at the
latest on the ingesters' next full reload, every KEYLINK_REGISTRY_REFRESH_S)."""

# The kinds of device the registry knows (domain.shipments.devices.KINDS), named here
# so that building the parser loads no domain code.
DEVICE_KINDS = ("gps_unit", "ais_gateway", "scanner")
# Who the device commands act as: the operator at the command line, trusted as the mill.
CLI_ACTOR = "keylink:cli"


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _need_database(settings: Settings) -> str:
    if not settings.database_url:
        raise UsageError("DATABASE_URL is not set (for a local run, use `keylink dev`)")
    return settings.database_url


def _dev(settings: Settings, args: argparse.Namespace) -> int:
    from api.embedded import ServerError, mosquitto_binary
    from api.embedded.extra import INSTALL_HINT, missing

    if settings.jwt_jwks_url:
        raise UsageError("it signs demo tokens with a key of its own, which "
                         "KEYLINK_JWT_JWKS_URL would not accept: unset KEYLINK_JWT_JWKS_URL")
    # The servers that no URL names are started here, from the `embedded` extra (the
    # broker only where Mosquitto is missing); say what to install before starting any.
    needed = {name for name, url in (("postgres", settings.database_url),
                                     ("redis", settings.redis_url)) if url is None}
    if settings.mqtt_url is None and mosquitto_binary() is None:
        needed.add("mqtt")
    absent = missing(needed)
    if absent:
        raise UsageError(
            f"the servers it starts need {', '.join(absent)}, which are not installed: "
            f"{INSTALL_HINT} (or set DATABASE_URL, REDIS_URL and MQTT_URL to servers of "
            "your own)")
    from api import dev
    from domain.migrate import MigrationError, NoMigrationsError

    try:
        return dev.run(settings, contracts=args.contracts, port=args.port)
    except (dev.DevError, ServerError, MigrationError, NoMigrationsError) as exc:
        print(f"keylink dev: {exc}", file=sys.stderr)
        return 1


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    _need_database(settings)
    if not (settings.jwt_secret or settings.jwt_public_key or settings.jwt_jwks_url):
        raise UsageError(
            "no token key: set KEYLINK_JWT_SECRET (HS256, 32+ characters), "
            "KEYLINK_JWT_PUBLIC_KEY (RS256) or KEYLINK_JWT_JWKS_URL (an identity provider)"
        )
    import asyncpg
    import uvicorn

    from api import logs, telemetry
    from api.app import SERVER_OPTIONS, create_app

    async def reachable(url: str) -> None:
        await (await asyncpg.connect(url, timeout=10)).close()

    # A wrong DATABASE_URL is said in one line before the server starts (main reports
    # it), rather than as a traceback of the server's failed startup.
    asyncio.run(reachable(_need_database(settings)))
    logs.configure(settings.log_level, settings.log_format)
    workers = args.workers or settings.workers or _cores()
    if workers > 1:
        return _serve_workers(settings, workers)
    telemetry.setup("keylink-api")
    # log_config=None: uvicorn's own records go through our formatter too.
    # workers=1: uvicorn would otherwise take WEB_CONCURRENCY, which needs an import string.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, workers=1,
                **SERVER_OPTIONS)
    return 0


def _cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's or taskset's
    share, where the platform tells it), else the machine's."""
    import os

    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _serve_workers(settings: Settings, workers: int) -> int:
    """``workers`` processes of the API on one listening socket, bound here and shared
    (uvicorn's supervisor; see docs/decisions.md). Each worker is a fresh interpreter that
    builds the app from the environment (:func:`api.app.app_from_environment`). This
    process only watches them: it restarts one that dies, and on SIGTERM or SIGINT stops
    them all (each finishes what it serves) before it exits. Exit 1 when a worker could
    not start at all (a broken configuration fails the same way every time)."""
    import os
    import shutil
    import tempfile

    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from api.app import SERVER_OPTIONS
    from api.metrics import MULTIPROCESS_DIR

    # Each worker counts its metrics into files here; any of them serves the sum. A fresh
    # folder each start: counts of an earlier run must not add to this one's.
    metrics_dir = tempfile.mkdtemp(prefix="keylink-metrics-")
    os.environ[MULTIPROCESS_DIR] = metrics_dir
    try:
        config = uvicorn.Config("api.app:app_from_environment", factory=True,
                                host=settings.host, port=settings.port, workers=workers,
                                **SERVER_OPTIONS)
        sock = config.bind_socket()
        supervisor = Multiprocess(config, sockets=[sock])
        try:
            supervisor.run()
        finally:
            sock.close()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    failed = any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes)
    return 1 if failed else 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from domain.migrate import MigrationError, NoMigrationsError, migrate

    url = _need_database(settings)
    try:
        applied = asyncio.run(migrate(url, settings.migrations_dir))
    except NoMigrationsError as exc:
        raise UsageError(
            f"{exc}; KEYLINK_MIGRATIONS_DIR must name the folder of SQL migrations "
            "(unset, the one inside the installed package)") from None
    except MigrationError as exc:
        print(f"keylink migrate: {exc.filename} failed, nothing of it applied:\n  {exc.error}",
              file=sys.stderr)
        return 1
    for name in applied:
        print(f"applied {name}")
    if not applied:
        print("database is up to date")
    return 0


def _seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    import demo
    from domain.db import Database

    if args.records_out:
        return _demo_records(args)
    url = _need_database(settings)

    async def seed() -> demo.DemoSummary | None:
        db = await Database.connect(url, min_size=1, max_size=4)
        try:
            return await demo.seed(db, contracts=args.contracts, random_seed=args.seed)
        except demo.DemoAlreadySeeded:
            return None
        finally:
            await db.close()

    summary = asyncio.run(seed())
    if summary is None:
        print("demo data already loaded; nothing to do")
        return 0
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in asdict(summary).items())
    print(f"loaded demo data: {counts}")
    return 0


def _demo_records(args: argparse.Namespace) -> int:
    from pathlib import Path

    import demo

    directory = Path(args.records_out)
    try:
        counts = demo.write_records(directory, contracts=args.contracts,
                                    random_seed=args.seed)
    except OSError as exc:
        print(f"keylink seed-demo: cannot write to {directory}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    listed = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())
    print(f"wrote {sum(counts.values())} demo records to {directory}: {listed}")
    return 0


def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    import logging
    import signal

    from prometheus_client import start_http_server

    from api import logs, telemetry
    from tracking.ingester import REGISTRY, CannotDrain, Stopped, run_ingester

    _need_database(settings)
    if args.members:
        return _ingest_members(settings)
    if not settings.mqtt_url:
        raise UsageError("MQTT_URL is not set (mqtt://user:password@host:port)")
    logs.configure(settings.log_level, settings.log_format)
    telemetry.setup("keylink-ingest")
    if args.drain is not None:
        async def drain() -> Stopped:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            return await run_ingester(settings, stop=stop, drain=args.drain)

        try:
            stopped = asyncio.run(drain())
        except CannotDrain as exc:
            print(f"keylink ingest: {exc}", file=sys.stderr)
            return 1
        if stopped is not Stopped.DRAINED:
            print(f"keylink ingest: {args.drain} not drained; its session is kept, try "
                  "again", file=sys.stderr)
            return 1
        print(f"drained {args.drain}: what its session held is stored, the session ended")
        return 0
    if settings.ingest_metrics_port:
        # One port per ingester on the host: the instance number is added.
        port = settings.ingest_metrics_port + settings.ingest_instance
        try:
            start_http_server(port, addr=settings.host, registry=REGISTRY)
        except OSError as exc:  # metrics are worth a warning, not a stopped ingester
            logging.getLogger("keylink.ingest").error(
                "metrics not served: %s:%d: %s", settings.host, port, exc)

    async def ingest() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_ingester(settings, stop=stop)

    asyncio.run(ingest())
    return 0


def _ingest_members(settings: Settings) -> int:
    from domain.db import Database
    from tracking import members

    async def listing() -> list[members.Member]:
        db = await Database.connect(_need_database(settings), min_size=1, max_size=1)
        try:
            return await members.members(db, settings.ingest_group)
        finally:
            await db.close()

    found = asyncio.run(listing())
    print(f"{'CLIENT ID':<40} {'HOST':<24} {'STATE':<9} LAST SEEN")
    for m in found:
        state = "running" if m.alive else "stopped" if m.stopped_at else "gone"
        print(f"{m.client_id:<40} {m.host:<24} {state:<9} {m.seen_at.isoformat()}")
    if not found:
        print(f"(no sessions in group {settings.ingest_group})")
    return 0


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    import signal
    from collections import Counter

    from api import logs
    from tracking.simulator import run_simulator

    _need_database(settings)
    if not settings.mqtt_url:
        raise UsageError("MQTT_URL is not set (mqtt://host:port)")
    logs.configure(settings.log_level, settings.log_format)
    sent: Counter[str] = Counter()

    async def simulate() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_simulator(settings, rate=args.rate, duration=args.duration, stop=stop,
                            vehicles=args.vehicles, bad_share=args.bad_share, sent=sent)

    try:
        asyncio.run(simulate())
    except ConnectionError as exc:
        print(f"keylink simulate: {exc}", file=sys.stderr)
        return 1
    print("sent " + (", ".join(f"{n} {kind}" for kind, n in sorted(sent.items())) or "nothing"))
    return 0


def _push(settings: Settings, args: argparse.Namespace) -> int:
    import signal

    from api import logs, telemetry
    from push.config import PushConfig
    from push.worker import run_worker

    url = _need_database(settings)
    logs.configure(settings.log_level, settings.log_format)
    telemetry.setup("keylink-push")

    async def push() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(url, PushConfig.of(settings), stop)

    asyncio.run(push())
    return 0


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _devices_passwd(settings: Settings, args: argparse.Namespace) -> int:
    from tracking.devices import password_file

    return _broker_logins(
        settings, args, "devices mosquitto-passwd",
        lambda db, ingest: password_file(db, ingest=ingest),
        lambda text: f"wrote {text.count(chr(10))} logins to {args.out}")


def _devices_dynsec(settings: Settings, args: argparse.Namespace) -> int:
    from tracking.devices import dynsec_config

    return _broker_logins(
        settings, args, "devices mosquitto-dynsec",
        lambda db, ingest: dynsec_config(db, ingest=ingest, group=settings.ingest_group,
                                         ingest_client_id=settings.ingest_client_id),
        lambda text: f"wrote the broker's access config to {args.out}; restart the broker")


def _broker_logins(
    settings: Settings, args: argparse.Namespace, name: str,
    render: Callable[[Database, tuple[str, str] | None], Awaitable[str]],
    written: Callable[[str], str],
) -> int:
    """The broker's logins from the device registry and MQTT_URL's ingester login, as
    ``render`` writes them, to ``--out`` (replaced in one step) or stdout."""
    from pathlib import Path

    from domain.db import Database
    from tracking.devices import DeviceError, ingest_credentials, write_file

    url = _need_database(settings)
    ingest = ingest_credentials(settings.mqtt_url)
    if ingest is None:
        print("keylink devices: MQTT_URL names no user and password; the file has no "
              "ingester login", file=sys.stderr)

    async def run() -> str:
        db = await Database.connect(url, min_size=1, max_size=1)
        try:
            return await render(db, ingest)
        finally:
            await db.close()

    try:
        text = asyncio.run(run())
    except DeviceError as exc:
        print(f"keylink {name}: {exc}", file=sys.stderr)
        return 1
    if args.out:
        write_file(Path(args.out), text)
        print(written(text))
    else:
        sys.stdout.write(text)
    return 0


def _devices_add(settings: Settings, args: argparse.Namespace) -> int:
    from domain.shipments import devices

    async def add(db: Database, actor: Actor) -> str:
        issued = await devices.register_device(
            db, actor, args.code, kind=args.kind, vehicle=args.vehicle, site=args.site,
            owntracks_id=args.owntracks)
        return f"added {issued.device.code}; its broker password (shown only now): " \
               f"{issued.password}"

    return _on_registry(settings, args, add)


def _devices_list(settings: Settings, args: argparse.Namespace) -> int:
    from domain.shipments import devices

    flt = devices.DeviceFilter(kinds=args.kind or (), enabled=args.enabled,
                               vehicle=args.vehicle, site=args.site)

    async def listing(db: Database, actor: Actor) -> str:
        found: list[devices.Device] = []
        after: str | None = None
        while True:  # every page: an operator's table, not a screenful
            page = await devices.list_devices(db, actor, flt, 500, after)
            found += page
            if len(page) < 500:
                break
            after = page[-1].code
        if not found:
            return "no devices"
        rows = [("CODE", "KIND", "VEHICLE", "SITE", "ENABLED", "LOGIN", "CREATED")]
        rows += [(d.code, d.kind, d.vehicle_code or "-", d.site_code or "-",
                  "yes" if d.enabled else "no", "yes" if d.has_login else "no",
                  d.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")) for d in found]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                         for r in rows)

    return _on_registry(settings, args, listing)


def _devices_disable(settings: Settings, args: argparse.Namespace) -> int:
    from domain.shipments import devices

    async def disable(db: Database, actor: Actor) -> str:
        done = await devices.disable_device(db, actor, args.code)
        return (f"disabled {done.code}: the ingesters refuse its messages within a "
                "second; write the broker's access file again "
                "(keylink devices mosquitto-dynsec) and restart the broker to refuse its "
                "login too")

    return _on_registry(settings, args, disable)


def _devices_enable(settings: Settings, args: argparse.Namespace) -> int:
    from domain.shipments import devices

    async def enable(db: Database, actor: Actor) -> str:
        done = await devices.enable_device(db, actor, args.code)
        return (f"enabled {done.code}: the ingesters take its messages within a "
                "second; write the broker's access file again "
                "(keylink devices mosquitto-dynsec) and restart the broker to let it log in")

    return _on_registry(settings, args, enable)


def _devices_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from domain.shipments import devices

    async def rotate(db: Database, actor: Actor) -> str:
        issued = await devices.rotate_password(db, actor, args.code)
        print("put it into the device, then write the broker's access file again (keylink "
              "devices mosquitto-dynsec) and restart the broker", file=sys.stderr)
        return f"rotated {issued.device.code}; its new broker password (shown only now): " \
               f"{issued.password}"

    return _on_registry(settings, args, rotate)


def _devices_bind(settings: Settings, args: argparse.Namespace) -> int:
    from domain.shipments import devices

    async def bind(db: Database, actor: Actor) -> str:
        done = await devices.bind_device(db, actor, args.code, vehicle=args.vehicle,
                                         site=args.site)
        target = f"vehicle {done.vehicle_code}" if done.vehicle_code else f"site {done.site_code}"
        return f"bound {done.code} to {target}; the ingesters follow within a second"

    return _on_registry(settings, args, bind)


def _on_registry(
    settings: Settings, args: argparse.Namespace,
    work: Callable[[Database, Actor], Awaitable[str]],
) -> int:
    """Run ``work`` on the device registry of DATABASE_URL as the command line's actor
    (the same domain functions GraphQL calls) and print what it returns; a refusal of the
    domain (no such device, a wrong binding) is printed as one line, exit 1."""
    from domain.actor import Actor
    from domain.db import Database
    from domain.errors import DomainError

    url = _need_database(settings)

    async def run() -> str:
        db = await Database.connect(url, min_size=1, max_size=1)
        try:
            return await work(db, Actor.system(CLI_ACTOR))
        finally:
            await db.close()

    try:
        text = asyncio.run(run())
    except DomainError as exc:
        print(f"keylink {args.name}: {exc.message}", file=sys.stderr)
        return 1
    print(text)
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from api.auth import TokenCodec
    from api.dev import dev_secret

    if settings.jwt_jwks_url:
        raise UsageError("tokens come from the identity provider at KEYLINK_JWT_JWKS_URL; "
                         "Keylink signs none")
    if not (settings.jwt_secret or settings.jwt_private_key):
        if not (settings.state_dir / "jwt-secret").exists():
            raise UsageError(
                "no signing key: set KEYLINK_JWT_SECRET (or KEYLINK_JWT_PRIVATE_KEY with "
                "KEYLINK_JWT_PUBLIC_KEY), or run `keylink dev` once to make a dev secret"
            )
        settings = settings.replace(jwt_secret=dev_secret(settings.state_dir))
    roles = [role.strip() for value in args.role for role in value.split(",") if role.strip()]
    kinds = [kind.strip() for value in args.kinds or () for kind in value.split(",")
             if kind.strip()]
    try:
        token = TokenCodec.from_settings(settings).issue(
            org=args.org, roles=roles, subject=args.sub or f"cli-{args.org.lower()}",
            ttl_seconds=args.ttl, kinds=kinds,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(token)
    return 0


# How much of a file `keylink import` reads at a time.
_READ_BYTES = 1 << 20
# Rejected records the summary names (the result keeps up to a thousand; --json shows them).
_REJECTIONS_SHOWN = 20


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path
    from typing import BinaryIO

    from tqdm import tqdm

    from api.records import BadBody, Gunzip
    from domain.actor import Actor
    from domain.db import Database
    from domain.errors import Invalid
    from domain.feeds.batch import ndjson_lines, run_batch

    url = args.database_url or _need_database(settings)
    size: int | None = None
    if args.file != "-":
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"no file {args.file}")
        size = path.stat().st_size
    name = "stdin" if args.file == "-" else Path(args.file).name

    async def chunks(source: BinaryIO, bar: tqdm[None]) -> AsyncIterator[bytes]:
        """The file's bytes, a block at a time (read in a thread: the batch goes on
        meanwhile), unpacked when gzipped (told by its first bytes)."""
        gunzip: Gunzip | None = None
        first = True
        while True:
            block = await asyncio.to_thread(source.read, _READ_BYTES)
            if not block:
                break
            bar.update(len(block))
            if first:
                first = False
                gunzip = Gunzip() if block[:2] == b"\x1f\x8b" else None
            if gunzip is None:
                yield block
            else:
                for piece in gunzip.feed(block):
                    yield piece
        if gunzip is not None:
            gunzip.close()

    async def run(source: BinaryIO) -> BatchResult:
        # Two connections: the batch's transaction, and its progress beside it.
        db = await Database.connect(url, min_size=1, max_size=2)
        try:
            with tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024,
                              desc=name, disable=None, file=sys.stderr) as bar:

                def progress(result: BatchResult) -> None:
                    bar.set_postfix(applied=result.applied, rejected=result.rejected,
                                    refresh=False)

                return await run_batch(
                    db, Actor.system("keylink:import"), ndjson_lines(chunks(source, bar)),
                    mode=args.mode, dry_run=args.dry_run, batch_id=args.batch,
                    on_progress=progress)
        finally:
            await db.close()

    try:
        if args.file == "-":
            result = asyncio.run(run(sys.stdin.buffer))
        else:
            with open(args.file, "rb") as source:
                result = asyncio.run(run(source))
    except Invalid as exc:
        raise UsageError(f"{exc.message} (--batch {args.batch})") from None
    except BadBody as exc:
        print(f"keylink import: {args.file}: {exc}; nothing of it is written", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keylink import: interrupted; nothing of it is written", file=sys.stderr)
        return 130
    if args.json:
        import json

        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        print(_import_summary(result))
    return 1 if result.rejected else 0


def _import_summary(result: BatchResult) -> str:
    """What a batch did, in a few lines, with its first rejected records."""
    said = {"committed": "committed", "checked": "checked (a dry run: nothing is written)",
            "rejected": "rejected: nothing is written, as records were refused (mode all)"}
    lines = [f"batch {result.id} {said.get(result.status, result.status)}",
             f"{result.lines_read:,} lines read: {result.applied:,} applied, "
             f"{result.unchanged:,} unchanged, {result.stale:,} stale, {result.retired:,} "
             f"retired, {result.rejected:,} rejected"]
    # In the order of the file (a record the database refuses is found after the chunk).
    shown = sorted(result.rejections, key=lambda r: r.line)[:_REJECTIONS_SHOWN]
    if shown:
        lines.append(f"rejected records (the first {len(shown)} of {result.rejected:,}):")
    for r in shown:
        what = " ".join(str(p) for p in (r.kind, r.key) if p) or "record"
        at = f", {r.field}" if r.field else ""
        lines.append(f"  line {r.line}: {what}{at}: {r.reason} [{r.code}]")
    return "\n".join(lines)


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a UUID, got {text}") from None


if __name__ == "__main__":
    sys.exit(main())
