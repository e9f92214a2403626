"""Every setting Keylink reads, in one place, all from the environment.

Each field names its environment variable and documents itself; ``README.md`` lists
them all and a test keeps the two in step. No secret has a default: ``keylink serve``
refuses to start without a signing key, and ``keylink dev`` makes its own.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_state_dir(root: Path = PROJECT_ROOT, cwd: Path | None = None) -> Path:
    """`.keylink` in the source checkout when run from one (`make run`), else in the
    working directory: an installed package's folder is no place for a database."""
    if (root / "pyproject.toml").is_file():
        return root / ".keylink"
    return (cwd or Path.cwd()) / ".keylink"


_DEFAULT_STATE_DIR = default_state_dir()
# Inside the `domain` package, so that they travel in the wheel.
_DEFAULT_MIGRATIONS = PROJECT_ROOT / "domain" / "migrations"
# What domain.disputes.evidence can recognize by content (kept here: settings import nothing).
_EVIDENCE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/tiff", "application/pdf",
                   "text/csv",
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

# An origin as a browser sends it: scheme, host and an optional port, nothing after.
# An AS2 name (RFC 4130 section 6.2): printable ASCII; quotes and backslashes left out.
_AS2_ID = re.compile(r'[!#-\[\]-~ ]{1,128}')
_ORIGIN = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


# Settings that count something and must count at least one.
_POSITIVE = (
    "push_max_attempts", "push_retry_base_s", "push_webhook_timeout_s",
    "ingest_batch_size", "ingest_batch_ms", "position_retention_days", "registry_refresh_s",
    "upload_max_bytes", "evidence_max_bytes", "body_max_bytes", "feed_max_bytes",
    "ws_auth_timeout_s",
    "import_max_unpacked_bytes", "import_max_rows", "import_max_cells", "import_lease_s",
    "max_depth", "max_aliases", "max_tokens", "max_cost", "max_field_comparisons",
    "urge_answer_minutes", "dispute_response_hours", "dispute_resolution_days",
    "exchange_timeout_s", "exchange_max_file_bytes",
    "exchange_max_pickup_bytes",
)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _setting(env: str, default: Any, doc: str) -> Any:
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True)
class Settings:
    database_url: str | None = _setting(
        "DATABASE_URL", None,
        "PostgreSQL URL. Unset: `keylink dev` starts an embedded server under the state "
        "directory; `keylink serve` refuses to start.")
    redis_url: str | None = _setting(
        "REDIS_URL", None,
        "Redis URL: `redis://` (or `rediss://`, TLS) for one server, `redis+cluster://` (or "
        "`rediss+cluster://`) and one or more of its nodes, comma-separated, for a Redis "
        "Cluster (`redis+cluster://:secret@10.0.0.1:6379,10.0.0.2:6379`). Unset: `keylink "
        "dev` starts an embedded Redis; `keylink serve` runs without live fan-out and "
        "`/readyz` reports Redis as not configured.")
    live_reorder_ms: int = _setting(
        "KEYLINK_LIVE_REORDER_MS", 250,
        "How long a position subscription holds a fix to put a vehicle's fixes back in "
        "fix-time order (two ingesters publish them as their batches commit). A fix later "
        "than that is still sent, flagged `late`. 0: sent as they come.")
    mqtt_url: str | None = _setting(
        "MQTT_URL", None,
        "MQTT broker, `mqtt://user:password@host:port`, or `mqtts://...` for TLS (port 8883 "
        "when none is given; the production broker listens for TLS only). Unset: `keylink "
        "dev` starts a broker with the project's config.")
    mqtt_ca_file: str | None = _setting(
        "KEYLINK_MQTT_CA_FILE", None,
        "PEM file of the certificate authorities an `mqtts://` broker's certificate must be "
        "signed by. Unset: the system's trusted authorities.")
    jwt_secret: str | None = _setting(
        "KEYLINK_JWT_SECRET", None,
        "HS256 signing secret for bearer tokens (at least 32 characters). `keylink dev` "
        "generates one under the state directory.")
    jwt_public_key: str | None = _setting(
        "KEYLINK_JWT_PUBLIC_KEY", None,
        "RS256 public key (PEM text or a path to a PEM file) to verify tokens issued "
        "elsewhere; takes precedence over the secret for verification.")
    jwt_private_key: str | None = _setting(
        "KEYLINK_JWT_PRIVATE_KEY", None,
        "RS256 private key (PEM text or path), only for `keylink token` to sign with.")
    jwt_jwks_url: str | None = _setting(
        "KEYLINK_JWT_JWKS_URL", None,
        "An identity provider's JWKS URL (Keycloak, Azure AD, ...): tokens are verified with "
        "the keys it publishes, chosen by `kid`, fetched again as they rotate. Replaces "
        "KEYLINK_JWT_SECRET and KEYLINK_JWT_PUBLIC_KEY; needs KEYLINK_JWT_ISSUER and "
        "KEYLINK_JWT_AUDIENCE; https, except on a loopback address.")
    jwt_issuer: str | None = _setting(
        "KEYLINK_JWT_ISSUER", None,
        "Required `iss` of every token; tokens Keylink issues carry it.")
    jwt_audience: str | None = _setting(
        "KEYLINK_JWT_AUDIENCE", None,
        "Required `aud` of every token (unset: a token with an `aud` is refused); tokens "
        "Keylink issues carry it.")
    jwt_org_claim: str = _setting(
        "KEYLINK_JWT_ORG_CLAIM", "org",
        "Claim holding the organization's code; a dotted path reaches a nested claim.")
    jwt_roles_claim: str = _setting(
        "KEYLINK_JWT_ROLES_CLAIM", "roles",
        "Claim holding the roles (a list, or a string separated by spaces or commas); a "
        "dotted path reaches a nested claim, e.g. Keycloak's `realm_access.roles`. Values "
        "that are not Keylink roles are ignored.")
    jwt_kinds_claim: str = _setting(
        "KEYLINK_JWT_KINDS_CLAIM", "kinds",
        "Claim holding the record kinds an `integration` token may feed (a list, or a string "
        "separated by spaces or commas; `*`: every kind); a dotted path reaches a nested "
        "claim. Kinds Keylink does not know are ignored.")
    host: str = _setting("KEYLINK_HOST", "127.0.0.1", "Address the API listens on.")
    port: int = _setting(
        "KEYLINK_PORT", 8000,
        "Port the API listens on; `keylink dev` picks a free one when it is taken.")
    workers: int = _setting(
        "KEYLINK_WORKERS", 0,
        "Processes `keylink serve` runs, all on the one port (`--workers` overrides it); 0: "
        "one per core this process may use. Each has its own database pool "
        "(KEYLINK_DB_POOL_MAX connections at most). `keylink dev` runs one.")
    environment: str = _setting(
        "KEYLINK_ENV", "production",
        "`development` turns on GraphiQL, introspection without a token and readable logs; "
        "`keylink dev` sets it.")
    log_level: str = _setting("KEYLINK_LOG_LEVEL", "INFO", "Python log level.")
    log_format: str = _setting(
        "KEYLINK_LOG_FORMAT", "json", "`json` (one object a line) or `text`.")
    db_pool_min: int = _setting("KEYLINK_DB_POOL_MIN", 2, "Smallest database pool size.")
    db_pool_max: int = _setting("KEYLINK_DB_POOL_MAX", 10, "Largest database pool size.")
    max_depth: int = _setting(
        "KEYLINK_MAX_DEPTH", 12, "Deepest selection nesting an operation may have.")
    max_aliases: int = _setting(
        "KEYLINK_MAX_ALIASES", 30, "Most field aliases in one operation.")
    max_tokens: int = _setting(
        "KEYLINK_MAX_TOKENS", 4000, "Most lexical tokens in one operation document.")
    max_cost: int = _setting(
        "KEYLINK_MAX_COST", 100000,
        "Most fields an operation may resolve, counting each list as its page size "
        "(`first`) down each path; GraphiQL's schema introspection costs about 51,000.")
    max_field_comparisons: int = _setting(
        "KEYLINK_MAX_FIELD_COMPARISONS", 5000,
        "Most pairs of same-named fields validation may compare to check that they merge; "
        "a document repeating one field hundreds of times needs more and is refused.")
    read_planner: str = _setting(
        "KEYLINK_READ_PLANNER", "on",
        "`on`: a query's root field whose whole selection has SQL forms is answered by one "
        "statement that builds its JSON in PostgreSQL; `off`: every field by its resolver.")
    state_dir: Path = _setting(
        "KEYLINK_STATE_DIR", _DEFAULT_STATE_DIR,
        "Where `keylink dev` keeps its embedded servers' data, secret and endpoints.json: "
        "by default `.keylink` in the source checkout it runs from, or, run from an "
        "installed package, in the working directory.")
    migrations_dir: Path = _setting(
        "KEYLINK_MIGRATIONS_DIR", _DEFAULT_MIGRATIONS,
        "Folder of SQL migrations; by default those shipped inside the package. `keylink "
        "migrate` refuses a folder without any.")
    ingest_client_id: str = _setting(
        "KEYLINK_INGEST_CLIENT_ID", "keylink-ingest-{hostname}-{n}",
        "MQTT client id of an ingester; `{hostname}` and `{n}` (KEYLINK_INGEST_INSTANCE) are "
        "filled in. Keep it stable across restarts: the broker queues for the session of this "
        "id while the ingester is down (after a crash, or as the group's last member); "
        "`keylink ingest --drain ID` takes over a session whose ingester is not coming back.")
    ingest_instance: int = _setting(
        "KEYLINK_INGEST_INSTANCE", 0,
        "Number of this ingester among those on one host, for `{n}` in the client id.")
    ingest_group: str = _setting(
        "KEYLINK_INGEST_GROUP", "keylink-ingest",
        "MQTT shared-subscription group: the broker hands each message to one ingester of "
        "the group.")
    ingest_batch_size: int = _setting(
        "KEYLINK_INGEST_BATCH_SIZE", 500,
        "Most messages an ingester commits in one transaction; keep it under the broker's "
        "`max_inflight_messages` (1000), which caps the unacknowledged messages it is sent.")
    ingest_batch_ms: int = _setting(
        "KEYLINK_INGEST_BATCH_MS", 10,
        "Longest an ingester waits to fill a batch before committing what it has, in ms. "
        "Messages that arrive while a batch is being stored make the next batch anyway, so "
        "batches grow with the load; a longer wait saves some CPU at moderate rates and "
        "adds its length to every fix's latency.")
    ingest_session_expiry_s: int = _setting(
        "KEYLINK_INGEST_SESSION_EXPIRY_S", 86400,
        "How long the broker keeps an ingester's session (and queues its messages) after it "
        "disconnects, in seconds.")
    ingest_metrics_port: int = _setting(
        "KEYLINK_INGEST_METRICS_PORT", 9108,
        "Port on which `keylink ingest` serves Prometheus metrics at /metrics, plus "
        "KEYLINK_INGEST_INSTANCE; 0 turns it off. Under `keylink dev` the ingester's metrics "
        "are in the API's /metrics.")
    registry_refresh_s: int = _setting(
        "KEYLINK_REGISTRY_REFRESH_S", 60,
        "How often an ingester reloads the whole device registry, in seconds: the fallback, "
        "since changes reach it within a second through the outbox; an unknown device is "
        "also looked up when it first publishes.")
    smtp_url: str | None = _setting(
        "KEYLINK_SMTP_URL", None,
        "SMTP server for e-mail push rules, `smtp://user:password@host:port` (STARTTLS when "
        "offered) or `smtps://...` (TLS). Unset: rules cannot choose the e-mail channel.")
    smtp_from: str = _setting(
        "KEYLINK_SMTP_FROM", "keylink@localhost", "Sender address of push e-mails.")
    push_max_attempts: int = _setting(
        "KEYLINK_PUSH_MAX_ATTEMPTS", 10,
        "Tries of a webhook or e-mail delivery before it is dead-lettered.")
    push_retry_base_s: int = _setting(
        "KEYLINK_PUSH_RETRY_BASE_S", 10,
        "Wait before the first retry of a failed delivery, in seconds; it doubles with each "
        "further try, up to an hour.")
    push_webhook_timeout_s: int = _setting(
        "KEYLINK_PUSH_WEBHOOK_TIMEOUT_S", 10,
        "How long a webhook receiver has to answer, in seconds; longer counts as a failure.")
    webhook_allow: str | None = _setting(
        "KEYLINK_WEBHOOK_ALLOW", None,
        "Comma-separated address ranges (CIDR, e.g. `127.0.0.0/8,10.20.0.0/16`) that "
        "webhooks and the document exchange (HTTPS, SFTP, AS2) may reach although they are "
        "not public: on-premise receivers, tests. Unset: only public addresses, over https "
        "in production (http also to these ranges).")
    exchange_timeout_s: int = _setting(
        "KEYLINK_EXCHANGE_TIMEOUT_S", 60,
        "How long one document exchange with a partner may take (connecting, sending or "
        "picking up, and its answer or MDN), in seconds; longer fails and may be tried "
        "again.")
    exchange_max_file_bytes: int = _setting(
        "KEYLINK_EXCHANGE_MAX_FILE_BYTES", 52428800,
        "Largest document sent to or taken from a partner (an SFTP file, an AS2 message), "
        "in bytes; an SFTP file over it is left in the partner's folder unread (its size "
        "is checked before reading).")
    exchange_max_pickup_bytes: int = _setting(
        "KEYLINK_EXCHANGE_MAX_PICKUP_BYTES", 209715200,
        "Most bytes one SFTP pick-up reads, all files together; the files past it wait "
        "for the next pick-up. At least KEYLINK_EXCHANGE_MAX_FILE_BYTES.")
    as2_id: str | None = _setting(
        "KEYLINK_AS2_ID", None,
        "The mill's AS2 identifier (`AS2-From` of what it sends, `AS2-To` partners send "
        "to). Unset: no AS2. Needs KEYLINK_AS2_KEY and KEYLINK_AS2_CERTIFICATE.")
    as2_key: str | None = _setting(
        "KEYLINK_AS2_KEY", None,
        "The mill's AS2 private key (PEM text or a path to a PEM file, RSA): signs what it "
        "sends and its MDNs, decrypts what partners encrypt to it.")
    as2_certificate: str | None = _setting(
        "KEYLINK_AS2_CERTIFICATE", None,
        "The mill's AS2 certificate (PEM text or a path to a PEM file) for KEYLINK_AS2_KEY, "
        "the one its partners pin.")
    position_retention_days: int = _setting(
        "KEYLINK_POSITION_RETENTION_DAYS", 400,
        "Days of positions kept; an ingester drops older daily partitions once an hour.")

    upload_max_bytes: int = _setting(
        "KEYLINK_UPLOAD_MAX_BYTES", 26214400,
        "Largest multipart (file upload) request to `/graphql` with a valid token, in bytes "
        "(without one, `KEYLINK_BODY_MAX_BYTES`); a larger one is refused with 413 before "
        "it is read.")
    body_max_bytes: int = _setting(
        "KEYLINK_BODY_MAX_BYTES", 1048576,
        "Largest request body other than a file upload (a JSON operation), in bytes; a "
        "larger one is refused with 413, counted as it arrives when it states no length.")
    feed_max_bytes: int = _setting(
        "KEYLINK_FEED_MAX_BYTES", 1073741824,
        "Largest body of records sent to `POST /feeds/records` (NDJSON, streamed, never held "
        "whole), in bytes, counted as it arrives (and unpacked, when gzipped); a larger one "
        "is refused with 413 and nothing of it is written.")
    cors_origins: str | None = _setting(
        "KEYLINK_CORS_ORIGINS", None,
        "Comma-separated origins (`https://portal.example.com`) whose pages may call the API "
        "from a browser (CORS) and open its WebSocket. Unset: none.")
    ws_auth_timeout_s: int = _setting(
        "KEYLINK_WS_AUTH_TIMEOUT_S", 5,
        "Seconds a new WebSocket has to send `connection_init` with a valid token; it is "
        "closed (4408) when it has not, and at once (4403) when its token is refused.")
    ws_max_per_address: int = _setting(
        "KEYLINK_WS_MAX_PER_ADDRESS", 100,
        "Most WebSockets one client address may hold open on one API process; more are "
        "refused with 429. 0: no cap.")
    rate_limit_per_minute: int = _setting(
        "KEYLINK_RATE_LIMIT_PER_MINUTE", 600,
        "Operations a minute (over HTTP, or sent over a WebSocket) per signed-in user (a "
        "valid token's organization and subject), or per client address for requests "
        "without a valid token; more are refused with 429 `RATE_LIMITED` and `Retry-After`. "
        "Counted in Redis when there is one (all replicas share the budget). 0: off.")
    socket_rate_per_minute: int = _setting(
        "KEYLINK_SOCKET_RATE_PER_MINUTE", 60,
        "New WebSockets a minute per client address, and sign-ins over them per user; more "
        "are refused (429 at the handshake, 4429 at `connection_init`). 0: off.")
    evidence_max_bytes: int = _setting(
        "KEYLINK_EVIDENCE_MAX_BYTES", 10485760,
        "Largest evidence file of a quality dispute, in bytes.")
    evidence_types: str = _setting(
        "KEYLINK_EVIDENCE_TYPES",
        "image/jpeg,image/png,image/webp,image/tiff,application/pdf,text/csv,"
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Comma-separated types an evidence file may be, judged by its content: any of "
        "those listed in the default.")
    import_max_unpacked_bytes: int = _setting(
        "KEYLINK_IMPORT_MAX_UNPACKED_BYTES", 52428800,
        "Most an XLSX plan file may unpack to, all its parts together, in bytes; measured "
        "while inflating (declared sizes are not believed) and refused with `TOO_LARGE` "
        "before the import starts.")
    import_max_rows: int = _setting(
        "KEYLINK_IMPORT_MAX_ROWS", 100000,
        "Most rows a plan file may have below its heading (empty rows count while it is "
        "read); counted as it is read, and a file over it fails with nothing imported.")
    import_max_cells: int = _setting(
        "KEYLINK_IMPORT_MAX_CELLS", 2000000,
        "Most cells a plan file may have, counted as it is read; a file over it fails with "
        "nothing imported.")
    import_lease_s: int = _setting(
        "KEYLINK_IMPORT_LEASE_S", 30,
        "How long an API process holds a running plan import without renewing its lease (it "
        "renews every third of it), in seconds. An import whose process died is taken over "
        "by another API process after this long, and run again from the stored file.")
    urge_answer_minutes: int = _setting(
        "KEYLINK_URGE_ANSWER_MINUTES", 120,
        "Minutes the mill has for each answer to an urge (acknowledging it, then promising a "
        "date) before it escalates to the next person of the chain, for a customer whose "
        "tier sets no answer time of its own.")
    dispute_response_hours: int = _setting(
        "KEYLINK_DISPUTE_RESPONSE_HOURS", 24,
        "Hours the mill has to take a customer's new quality dispute up (`PROCESS`), for a "
        "customer whose tier sets no response target of its own.")
    dispute_resolution_days: int = _setting(
        "KEYLINK_DISPUTE_RESOLUTION_DAYS", 30,
        "Days from a dispute's opening to its completion the mill aims for, for a customer "
        "whose tier sets no target of its own.")
    survey_low_rating: int = _setting(
        "KEYLINK_SURVEY_LOW_RATING", 2,
        "A survey answer rated at or under this (1 to 5) is a low rating: the mill's event "
        "`service.low_rating`, which staff route with push rules.")
    progress_tolerance: Decimal = _setting(
        "KEYLINK_PROGRESS_TOLERANCE", Decimal("0.10"),
        "How far a production stage's recorded tonnes may exceed its planned tonnes, as a "
        "share (0.10 = 10 %); `recordProgress` refuses a step past it with "
        "`OVER_TOLERANCE`. Between 0 and 1.")

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f, raw)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.environment not in ("production", "development"):
            raise SettingsError("KEYLINK_ENV must be `production` or `development`")
        if self.read_planner not in ("on", "off"):
            raise SettingsError("KEYLINK_READ_PLANNER must be `on` or `off`")
        if self.log_format not in ("json", "text"):
            raise SettingsError("KEYLINK_LOG_FORMAT must be `json` or `text`")
        if self.jwt_secret is not None and len(self.jwt_secret) < 32:
            raise SettingsError("KEYLINK_JWT_SECRET must be at least 32 characters long")
        self._check_tokens()
        if self.db_pool_min < 1 or self.db_pool_max < self.db_pool_min:
            raise SettingsError("KEYLINK_DB_POOL_MIN must be >= 1 and <= KEYLINK_DB_POOL_MAX")
        for name in _POSITIVE:
            if getattr(self, name) < 1:
                env = type(self).__dataclass_fields__[name].metadata["env"]
                raise SettingsError(f"{env} must be a positive integer")
        if not 1 <= self.survey_low_rating <= 5:
            raise SettingsError("KEYLINK_SURVEY_LOW_RATING must be a rating from 1 to 5")
        if self.mqtt_url is not None and not self.mqtt_url.startswith(("mqtt://", "mqtts://")):
            raise SettingsError("MQTT_URL must start with mqtt:// or mqtts://")
        if self.mqtt_ca_file is not None and not Path(self.mqtt_ca_file).is_file():
            raise SettingsError(f"KEYLINK_MQTT_CA_FILE: no file {self.mqtt_ca_file}")
        for entry in (self.webhook_allow or "").split(","):
            try:
                if entry.strip():
                    ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise SettingsError("KEYLINK_WEBHOOK_ALLOW must be comma-separated address "
                                    f"ranges such as 127.0.0.0/8, got {entry.strip()!r}"
                                    ) from None
        self._check_exchange()
        if self.redis_url is not None and not self.redis_url.startswith(
                ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")):
            raise SettingsError("REDIS_URL must start with redis://, rediss://, unix:// (one "
                                "server), redis+cluster:// or rediss+cluster:// (a cluster)")
        if self.smtp_url is not None and not self.smtp_url.startswith(("smtp://", "smtps://")):
            raise SettingsError("KEYLINK_SMTP_URL must start with smtp:// or smtps://")
        if self.workers < 0:
            raise SettingsError("KEYLINK_WORKERS must be 0 (one per core) or a positive "
                                "integer")
        for env, value in (("KEYLINK_WS_MAX_PER_ADDRESS", self.ws_max_per_address),
                           ("KEYLINK_RATE_LIMIT_PER_MINUTE", self.rate_limit_per_minute),
                           ("KEYLINK_SOCKET_RATE_PER_MINUTE", self.socket_rate_per_minute),
                           ("KEYLINK_LIVE_REORDER_MS", self.live_reorder_ms)):
            if value < 0:
                raise SettingsError(f"{env} must be 0 (off) or a positive integer")
        for origin in self.cors_origin_list:
            if not _ORIGIN.fullmatch(origin):
                raise SettingsError("KEYLINK_CORS_ORIGINS must list origins such as "
                                    f"https://portal.example.com, got {origin!r}")
        if not Decimal(0) <= self.progress_tolerance <= Decimal(1):
            raise SettingsError("KEYLINK_PROGRESS_TOLERANCE must be a share between 0 and 1,"
                                " such as 0.10")
        unknown = set(self.evidence_type_list) - set(_EVIDENCE_TYPES)
        if unknown or not self.evidence_type_list:
            raise SettingsError("KEYLINK_EVIDENCE_TYPES must list some of "
                                + ", ".join(_EVIDENCE_TYPES))

    def _check_exchange(self) -> None:
        if self.exchange_max_pickup_bytes < self.exchange_max_file_bytes:
            raise SettingsError("KEYLINK_EXCHANGE_MAX_PICKUP_BYTES must be at least "
                                "KEYLINK_EXCHANGE_MAX_FILE_BYTES, or the largest file "
                                "allowed could never be picked up")
        as2 = (self.as2_id, self.as2_key, self.as2_certificate)
        if any(v is not None for v in as2) and not all(v is not None for v in as2):
            raise SettingsError("KEYLINK_AS2_ID, KEYLINK_AS2_KEY and KEYLINK_AS2_CERTIFICATE "
                                "go together: set all three, or none")
        if self.as2_id is not None and not _AS2_ID.fullmatch(self.as2_id):
            raise SettingsError("KEYLINK_AS2_ID must be 1 to 128 printable ASCII characters "
                                f"without quotes or backslashes, got {self.as2_id!r}")

    def _check_tokens(self) -> None:
        for env, path in (("KEYLINK_JWT_ORG_CLAIM", self.jwt_org_claim),
                          ("KEYLINK_JWT_ROLES_CLAIM", self.jwt_roles_claim),
                          ("KEYLINK_JWT_KINDS_CLAIM", self.jwt_kinds_claim)):
            if not path.strip() or ("/" not in path and not all(path.split("."))):
                raise SettingsError(f"{env} must be a claim name or a dotted path, got {path!r}")
        if self.jwt_jwks_url is None:
            return
        url = urlsplit(self.jwt_jwks_url)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise SettingsError("KEYLINK_JWT_JWKS_URL must be an https:// URL")
        if url.scheme == "http" and not _loopback(url.hostname):
            raise SettingsError("KEYLINK_JWT_JWKS_URL must use https (http only on a "
                                "loopback address): the keys decide who gets in")
        if self.jwt_secret is not None or self.jwt_public_key is not None:
            raise SettingsError("KEYLINK_JWT_JWKS_URL replaces KEYLINK_JWT_SECRET and "
                                "KEYLINK_JWT_PUBLIC_KEY: unset them")
        if self.jwt_issuer is None or self.jwt_audience is None:
            raise SettingsError("KEYLINK_JWT_JWKS_URL needs KEYLINK_JWT_ISSUER and "
                                "KEYLINK_JWT_AUDIENCE: an identity provider signs tokens "
                                "for other applications with the same keys")

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o.strip().rstrip("/") for o in (self.cors_origins or "").split(",")
                     if o.strip())

    @property
    def evidence_type_list(self) -> tuple[str, ...]:
        return tuple(t.strip().lower() for t in self.evidence_types.split(",") if t.strip())

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def documentation(cls) -> list[tuple[str, str, str]]:
        """(variable, default, description) for every setting, for the README."""
        rows = []
        for f in dataclasses.fields(cls):
            default = f.default
            if isinstance(default, Path):
                base = next((b for b in (PROJECT_ROOT, Path.cwd()) if default.is_relative_to(b)),
                            None)
                default = (default.relative_to(base) if base else default).as_posix()
            shown = "(unset)" if default is None else f"`{default}`"
            rows.append((f.metadata["env"], shown, f.metadata["doc"]))
        return rows


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse(f: dataclasses.Field[Any], raw: str) -> Any:
    name = f.metadata["env"]
    kind = f.type
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if kind == "Path":
        return Path(raw).expanduser().resolve()
    if kind == "Decimal":
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if not value.is_finite():
            raise SettingsError(f"{name} must be a finite number, got {raw!r}")
        return value
    return raw
