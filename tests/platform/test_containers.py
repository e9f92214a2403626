"""The container image and the compose file, checked without a container engine.

The compose file is validated against the Compose Specification's JSON schema (the copy
check-jsonschema ships, with its licence), after the same variable interpolation Compose
does; the Dockerfile is parsed instruction by instruction. What compose wires between the
broker, its access file and the ingesters is also run without containers: each service's
command and environment as compose gives them, each path through that service's mounts.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import threading
import tomllib
from collections.abc import Iterator, Mapping
from datetime import timedelta
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import paho.mqtt.client as mqtt
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from paho.mqtt.enums import CallbackAPIVersion

from api import cli
from api.cli import build_parser
from api.embedded import free_port
from domain.db import Database
from settings import PROJECT_ROOT, Settings
from tests.support.broker import PRODUCTION_CONFIG, Tls, directives, make_tls, production_broker
from tests.tracking.test_ingester import NOW, eventually, ingesting, make_fleet, position

COMPOSE = PROJECT_ROOT / "compose.yaml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
SCHEMA = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
SCHEMA_LICENCE = files("check_jsonschema.builtin_schemas.vendor") / "licenses" / \
    "LICENSE.compose-spec"
SECRETS = ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "KEYLINK_JWT_SECRET", "MQTT_INGEST_PASSWORD")
TEST_ENV = {name: f"test-{name.lower().replace('_', '-')}" for name in SECRETS}
KEYLINK_SERVICES = {"migrate", "broker-access", "api-1", "api-2", "ingest-1", "ingest-2", "push"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|CREDENTIAL", re.I)
INTERPOLATION = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


class MissingVariable(Exception):
    pass


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}`` and ``${VAR?error}``."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if present:
            return env[name]
        if op in (":?", "?"):
            raise MissingVariable(f"{name}: {arg}")
        return arg if op in (":-", "-") else ""

    return INTERPOLATION.sub(one, value)


def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def rendered(env: Mapping[str, str] = TEST_ENV) -> dict[str, Any]:
    data: dict[str, Any] = interpolate(raw(), env)
    return data


def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    checker: jsonschema.protocols.Validator = cls(schema)
    return checker


def test_the_compose_file_is_valid_under_the_compose_specification() -> None:
    assert "Apache License" in SCHEMA_LICENCE.read_text()
    check = validator()
    compose = rendered()
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in check.iter_errors(compose)]
    assert errors == []
    # The schema is not vacuous: what Compose would refuse, it refuses too.
    for spoil in (lambda c: c["services"]["api-1"].update(replicas=2),
                  lambda c: c["services"]["push"].update(depends_on={"migrate": {"when": 1}}),
                  lambda c: c.update(service={}),
                  lambda c: c["services"]["postgres"].update(healthcheck={"test": 5})):
        broken = copy.deepcopy(compose)
        spoil(broken)
        assert not check.is_valid(broken)


def test_every_secret_comes_from_the_environment() -> None:
    for name in SECRETS:
        with pytest.raises(MissingVariable, match=name):
            rendered({k: v for k, v in TEST_ENV.items() if k != name})
        with pytest.raises(MissingVariable, match=name):
            rendered({**TEST_ENV, name: ""})
    for where, key, value in _strings(raw()):
        if SECRET_NAME.search(key) and isinstance(value, str):
            assert re.fullmatch(r"\$\{[A-Z_]+(:?[-?][^}]*)?\}", value), f"{where}: {value}"
        for password in re.findall(r"://[^/@\s:]*:([^@\s]*)@", str(value)):
            assert re.fullmatch(r"\$\{[A-Z_]+(:?[-?][^}]*)?\}", password), f"{where}: {value}"
    # Every secret the rendered file holds came from the environment given.
    text = json.dumps(rendered())
    for name, value in TEST_ENV.items():
        assert value in text, name
    # The example .env names each secret and holds none.
    example = dict(line.split("=", 1) for line in
                   (PROJECT_ROOT / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert {k: v for k, v in example.items() if k in SECRETS} == dict.fromkeys(SECRETS, "")


def test_every_keylink_service_runs_the_built_image_unprivileged() -> None:
    compose = rendered()
    services: dict[str, dict[str, Any]] = compose["services"]
    image = services["migrate"]["image"]
    assert services["migrate"]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    ours = {name for name, s in services.items() if s.get("image") == image}
    assert ours == KEYLINK_SERVICES
    assert not [name for name, s in services.items() if "build" in s and name != "migrate"]
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    image_user = _dockerfile_user()
    for name in KEYLINK_SERVICES:
        service = services[name]
        assert service["command"][0] in commands, name
        user = str(service.get("user", image_user)).split(":")[0]
        assert user not in ("", "0", "root"), name
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
    # Migrations come from the installed package, applied before anything starts.
    assert services["migrate"]["command"] == ["migrate"]
    assert "KEYLINK_MIGRATIONS_DIR" not in json.dumps(compose)
    for name in KEYLINK_SERVICES - {"migrate"}:
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"}, name


def test_the_compose_file_runs_two_apis_two_ingesters_and_a_push_worker() -> None:
    services = rendered()["services"]
    by_command: dict[str, list[str]] = {}
    for name in KEYLINK_SERVICES:
        by_command.setdefault(services[name]["command"][0], []).append(name)
    assert sorted(by_command["serve"]) == ["api-1", "api-2"]
    assert sorted(by_command["ingest"]) == ["ingest-1", "ingest-2"]
    assert by_command["push"] == ["push"]
    instances = {services[n]["environment"]["KEYLINK_INGEST_INSTANCE"]
                 for n in by_command["ingest"]}
    assert len(instances) == 2
    for name in by_command["ingest"]:
        env = services[name]["environment"]
        assert "{n}" in env["KEYLINK_INGEST_CLIENT_ID"]  # each its own session
        assert env["MQTT_URL"].startswith("mqtts://keylink-ingest:test-mqtt-ingest-password@")
    # The replicas publish nothing; the proxy sends to both and checks their health.
    assert not any("ports" in services[n] for n in KEYLINK_SERVICES)
    caddyfile = rendered()["configs"]["caddyfile"]["content"]
    assert re.search(r"reverse_proxy api-1:8000 api-2:8000", caddyfile)
    assert "health_uri /healthz" in caddyfile
    assert services["proxy"]["configs"][0]["source"] == "caddyfile"
    # Real servers.
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")


def test_the_broker_runs_the_projects_config_with_tls_certificates() -> None:
    services = rendered()["services"]
    mosquitto = services["mosquitto"]
    mounts = [_mount(v) for v in mosquitto["volumes"]]
    binds = {target: (source, read_only) for source, target, read_only in mounts}
    assert binds["/etc/mosquitto/mosquitto.conf"] == ("./config/mosquitto.conf", True)
    assert binds["/etc/mosquitto/certs"] == ("./certs", True)
    assert "/etc/mosquitto/mosquitto.conf" in " ".join(mosquitto["entrypoint"])
    # What the project mounts exists in it (the certificates are the operator's).
    for source, _, _ in mounts:
        if source.startswith("./") and source != "./certs":
            assert (PROJECT_ROOT / source).is_file(), source
    conf = directives((PROJECT_ROOT / "config" / "mosquitto.conf").read_text())
    named = dict(conf)
    assert "plugin_opt_config_file" in named and "certfile" in named
    assert not {"password_file", "acl_file"} & set(named)
    # The broker publishes exactly the config's listeners: TLS on 8883, nothing else.
    listeners = {value.split()[0] for name, value in conf if name == "listener"}
    assert listeners == {"8883"}
    assert {p.rsplit(":", 1)[1] for p in mosquitto["ports"]} == listeners
    # Every file the broker's config names is provided by a mount (the plugin itself
    # ships in the eclipse-mosquitto image, at the path the config names).
    paths = [value for name, value in conf if name in (
        "password_file", "acl_file", "cafile", "capath", "certfile", "keyfile",
        "persistence_location", "plugin_opt_config_file")]
    assert len(paths) >= 4
    targets = [PurePosixPath(target) for _, target, _ in mounts]
    for path in map(PurePosixPath, paths):
        assert any(path == t or t in path.parents for t in targets), path
    assert named["plugin"] == "/usr/lib/mosquitto_dynamic_security.so"
    assert mosquitto["image"].startswith("eclipse-mosquitto:2")

    # The access file is written, from the device registry once migrated, where the
    # broker reads it, by the broker's group (the file is 0640), before the broker starts.
    access = services["broker-access"]
    command = access["command"]
    assert command[:2] == ["devices", "mosquitto-dynsec"]
    out = PurePosixPath(command[command.index("--out") + 1])
    written = _in_service(access, str(out))
    assert written[0] == "volume"
    assert written == _in_service(mosquitto, named["plugin_opt_config_file"])
    assert str(access["user"]).split(":")[1] == "1883"  # the image's mosquitto group
    assert access["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert mosquitto["depends_on"]["broker-access"] == {
        "condition": "service_completed_successfully"}

    # The ingesters dial that listener over TLS, trusting the authority in certs/, with
    # the login, client ids and share group the access file was written for.
    for name in ("ingest-1", "ingest-2"):
        env = services[name]["environment"]
        url = urlsplit(env["MQTT_URL"])
        assert (url.scheme, url.hostname, str(url.port)) == ("mqtts", "mosquitto", "8883")
        ca = _in_service(services[name], env["KEYLINK_MQTT_CA_FILE"])
        assert ca == ("bind", "./certs/ca.crt")
        assert next(m for m in map(_mount, services[name]["volumes"])
                    if m[1] == env["KEYLINK_MQTT_CA_FILE"])[2]  # read-only
        for key in ("MQTT_URL", "KEYLINK_INGEST_CLIENT_ID", "KEYLINK_INGEST_GROUP"):
            assert env.get(key) == access["environment"].get(key), (name, key)
        assert services[name]["depends_on"]["mosquitto"] == {"condition": "service_started"}


def _in_service(service: Mapping[str, Any], path: str) -> tuple[str, str]:
    """Where a path inside a service's container lives: ("volume", name/rest) or
    ("bind", ./host/path), through the deepest mount that holds it."""
    inside = PurePosixPath(path)
    holding = [(PurePosixPath(t), s) for s, t, _ in map(_mount, service.get("volumes", []))
               if PurePosixPath(t) == inside or PurePosixPath(t) in inside.parents]
    assert holding, f"no mount holds {path}"
    target, source = max(holding, key=lambda m: len(m[0].parts))
    rest = inside.relative_to(target)
    kind = "bind" if source.startswith(("./", "/")) else "volume"
    return kind, source if not rest.parts else f"{source}/{rest}"


async def test_the_access_file_broker_access_writes_lets_the_ingesters_in_as_wired(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """broker-access, the broker and an ingester, each with its command, environment and
    mounts from the compose file; host folders stand for the project's tree and the named
    volumes. Only what needs a container network changes: the database's address, and the
    broker's (a loopback port, which the test certificate names, for `mosquitto:8883`)."""
    compose = rendered()
    services = compose["services"]
    project, volumes = tmp_path / "project", tmp_path / "volumes"
    make_tls(project / "certs", host="127.0.0.1")
    for name in compose["volumes"]:
        (volumes / name).mkdir(parents=True)

    def on_host(service: Mapping[str, Any], path: str) -> Path:
        kind, where = _in_service(service, path)
        return (project if kind == "bind" else volumes) / where

    # A device registered with the image's CLI, then broker-access as compose runs it.
    await make_fleet(db)
    access = services["broker-access"]
    for key in list(os.environ):
        if key.startswith(("KEYLINK_", "MQTT_", "OTEL_")) or key in ("DATABASE_URL",
                                                                       "REDIS_URL"):
            monkeypatch.delenv(key)
    for key, value in access["environment"].items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert await asyncio.to_thread(cli.main, ["devices", "add", "DEV-A", "--kind", "gps_unit",
                                              "--vehicle", "TRUCK-0"]) == 0
    password = capsys.readouterr().out.rsplit(" ", 1)[1].strip()
    command = list(access["command"])
    out = command.index("--out") + 1
    command[out] = str(on_host(access, command[out]))
    assert await asyncio.to_thread(cli.main, command) == 0
    written = await asyncio.to_thread(os.stat, command[out])
    assert written.st_mode & 0o777 == 0o640  # the broker's group may read it

    # The broker: the project's config, with the files its mounts give it.
    mosquitto, ingest = services["mosquitto"], services["ingest-1"]
    assert _in_service(mosquitto, "/etc/mosquitto/mosquitto.conf") == (
        "bind", "./config/mosquitto.conf")
    named = dict(directives(PRODUCTION_CONFIG.read_text()))
    tls = Tls(ca=on_host(ingest, ingest["environment"]["KEYLINK_MQTT_CA_FILE"]),
              cert=on_host(mosquitto, named["certfile"]),
              key=on_host(mosquitto, named["keyfile"]))
    port = free_port(0)
    with production_broker(tmp_path / "broker", port, tls,
                           on_host(mosquitto, named["plugin_opt_config_file"])) as broker:
        env = dict(ingest["environment"])
        url = urlsplit(env["MQTT_URL"])
        assert url.port == 8883
        env["MQTT_URL"] = url._replace(
            netloc=f"{url.username}:{url.password}@{broker.host}:{port}").geturl()
        env["DATABASE_URL"] = database_url
        del env["REDIS_URL"]  # live state is not what this test is about
        env["KEYLINK_MQTT_CA_FILE"] = str(tls.ca)
        settings = Settings.from_env(env)
        async with ingesting(settings, broker):
            fix = position(NOW - timedelta(minutes=5))
            assert await asyncio.to_thread(
                _publish_over_tls, broker.host, port, tls.ca, "DEV-A", password,
                "keylink/v1/devices/DEV-A/position", fix) == 0

            async def stored() -> bool:
                return await db.fetchval("SELECT count(*) FROM position") == 1
            await eventually(stored)


def _publish_over_tls(host: str, port: int, ca: Path, code: str, password: str, topic: str,
                      payload: bytes) -> int:
    """A device's fix at QoS 1 over TLS; the PUBACK's reason code."""
    connected, acked = threading.Event(), threading.Event()
    result: dict[str, Any] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=code, protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=str(ca))
    client.username_pw_set(code, password)
    client.on_connect = lambda _c, _u, _f, reason, _p: (
        result.__setitem__("connect", reason), connected.set())
    client.on_publish = lambda _c, _u, _mid, reason, _p: (
        result.__setitem__("publish", reason.value), acked.set())
    client.connect(host, port)
    client.loop_start()
    try:
        assert connected.wait(10) and not result["connect"].is_failure, result
        client.publish(topic, payload, qos=1)
        assert acked.wait(10), "no PUBACK"
        code_: int = result["publish"]
        return code_
    finally:
        client.disconnect()
        client.loop_stop()


def _mount(spec: str) -> tuple[str, str, bool]:
    source, target, *options = spec.split(":")
    return source, target, "ro" in options


def _strings(value: Any, where: str = "", key: str = "") -> Iterator[tuple[str, str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{where}/{k}", str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, str) and "=" in v:  # KEY=value list entries
                k, _, rest = v.partition("=")
                yield f"{where}/{i}", k, rest
            else:
                yield from _strings(v, f"{where}/{i}", key)
    else:
        yield where, key, value


# --- Dockerfile ---------------------------------------------------------------------

def _stages() -> list[list[dict[str, Any]]]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    stages: list[list[dict[str, Any]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _dockerfile_user() -> str:
    users = [i["value"] for i in _stages()[-1] if i["instruction"] == "USER"]
    return users[-1] if users else "root"


def test_the_image_installs_the_wheel_and_runs_unprivileged() -> None:
    parser = DockerfileParser(path=str(DOCKERFILE))
    assert re.search(r"python:3\.11-slim", parser.baseimage or "") or re.search(
        r"ARG PYTHON_IMAGE=python:3\.11-slim\b", DOCKERFILE.read_text())
    build, final = _stages()[0], _stages()[-1]
    assert len(_stages()) == 2 and build[0]["value"].endswith(" AS build")
    runs = [i["value"] for stage in _stages() for i in stage if i["instruction"] == "RUN"]
    assert not [r for r in runs if re.search(r"pip install\b.*\s(-e|--editable)\b", r)]
    assert any(re.search(r"\bpip wheel\b.*--wheel-dir /wheels \.$", r) for r in
               (i["value"] for i in build if i["instruction"] == "RUN"))
    # The final stage has no source tree: it installs the wheels and nothing else.
    final_runs = [i["value"] for i in final if i["instruction"] == "RUN"]
    (install,) = [r for r in final_runs if "pip install" in r]
    assert "from=build,source=/wheels" in install
    assert re.search(r"pip install --no-index --find-links /wheels keylink$", install)
    assert not [i for i in final if i["instruction"] in ("COPY", "ADD")]
    # An unprivileged user, last, by number (Kubernetes' runAsNonRoot can check it).
    user = _dockerfile_user()
    assert re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", user), user
    assert final.index(next(i for i in final if i["instruction"] == "USER")) > \
        final.index(next(i for i in final if i["value"] == install))
    # One image, every command: `keylink serve` by default.
    entry = {i["instruction"]: i["value"] for i in final}
    assert json.loads(entry["ENTRYPOINT"]) == ["keylink"]
    assert json.loads(entry["CMD"]) == ["serve"]
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"serve", "ingest", "push", "migrate"} <= set(commands)
    assert "/healthz" in entry["HEALTHCHECK"] and "KEYLINK_PORT" in entry["HEALTHCHECK"]
    assert "KEYLINK_HOST=0.0.0.0" in entry["ENV"]


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = [line.strip() for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert {".env", ".venv", ".keylink", "certs", ".git"} <= set(ignored)
    assert not [p for p in ignored if p.startswith("!")]  # no exceptions to reason about
    # The matching is Docker's: what is meant to stay out does.
    for path in (".env", "certs/server.key", "api/__pycache__/app.cpython-311.pyc",
                 "tests/test_containers.py", "docs/decisions.md"):
        assert _ignored(ignored, path), path
    # What the wheel is built from stays in: pyproject.toml, the README it names, every
    # file of the packages it finds, the SQL migrations among them.
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in
                pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    kept = ["pyproject.toml", pyproject["project"]["readme"]] + [
        str(f.relative_to(PROJECT_ROOT)) for package in packages
        for f in (PROJECT_ROOT / package).rglob("*")
        if f.is_file() and "__pycache__" not in f.parts]
    assert "domain/migrations/0001_foundation.sql" in kept
    assert not [path for path in kept if _ignored(ignored, path)]
    # The migrations live inside the package: no container file names a top-level folder.
    for name in ("Dockerfile", "compose.yaml", ".dockerignore", ".env.example"):
        text = (PROJECT_ROOT / name).read_text()
        assert not re.search(r"(?<![\w./-])migrations/", text), name
    assert not [p for p in ignored if p.strip("/").split("/")[-1] in ("migrations", "*.sql")]


def _ignored(patterns: list[str], path: str) -> bool:
    """Whether a .dockerignore with these patterns leaves ``path`` out: a pattern matches
    the path or one of its folders (``*`` within a name, ``**`` across folders)."""
    parts = path.split("/")
    for pattern in patterns:
        regex = (re.escape(pattern.strip("/")).replace(r"\*\*/", "(?:.*/)?")
                 .replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]"))
        if any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            return True
    return False
