"""The container image and the compose file, checked without a container engine.

The compose file is validated against the Compose Specification's JSON schema (the copy
check-jsonschema ships, with its licence), after the same variable interpolation Compose
does; the Dockerfile is parsed instruction by instruction.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from api.cli import build_parser
from api.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "compose.yaml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
SCHEMA = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
SCHEMA_LICENCE = files("check_jsonschema.builtin_schemas.vendor") / "licenses" / \
    "LICENSE.compose-spec"
SECRETS = ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "KEYLINK_JWT_SECRET", "MQTT_INGEST_PASSWORD")
TEST_ENV = {name: f"test-{name.lower().replace('_', '-')}" for name in SECRETS}
KEYLINK_SERVICES = {"migrate", "broker-logins", "api-1", "api-2", "ingest-1", "ingest-2", "push"}
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
        assert env["MQTT_URL"].startswith("mqtt://keylink-ingest:test-mqtt-ingest-password@")
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
    mosquitto = rendered()["services"]["mosquitto"]
    mounts = [_mount(v) for v in mosquitto["volumes"]]
    binds = {target: (source, read_only) for source, target, read_only in mounts}
    assert binds["/etc/mosquitto/mosquitto.conf"] == ("./config/mosquitto.conf", True)
    assert binds["/etc/mosquitto/keylink.acl"] == ("./config/mosquitto.acl", True)
    assert binds["/etc/mosquitto/certs"] == ("./certs", True)
    assert "/etc/mosquitto/mosquitto.conf" in " ".join(mosquitto["entrypoint"])
    assert any(p.endswith(":8883") for p in mosquitto["ports"])
    assert not any(p.endswith(":1883") for p in mosquitto["ports"])  # internal only
    # Every file the broker's config names is provided by a mount.
    conf = (PROJECT_ROOT / "config" / "mosquitto.conf").read_text()
    named = re.findall(r"^\s*(?:password_file|acl_file|cafile|capath|certfile|keyfile|"
                       r"persistence_location)\s+(\S+)", conf, re.M)
    assert any("password_file" in line for line in conf.splitlines())
    targets = [PurePosixPath(target) for _, target, _ in mounts]
    for path in map(PurePosixPath, named):
        assert any(path == t or t in path.parents for t in targets), path
    # The password file is written where the broker reads it.
    logins = rendered()["services"]["broker-logins"]
    out = PurePosixPath(logins["command"][logins["command"].index("--out") + 1])
    (volume,) = [_mount(v) for v in logins["volumes"]]
    broker_dir = {s: t for s, t, _ in mounts}[volume[0]]
    password_file = re.search(r"^\s*password_file\s+(\S+)", conf, re.M)
    assert password_file is not None
    assert PurePosixPath(broker_dir) / out.relative_to(volume[1]) == PurePosixPath(
        password_file.group(1))


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
    ignored = {line.strip() for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".env", ".venv", ".keylink", "certs", ".git"} <= ignored
    # What the wheel is built from stays in.
    kept = {"pyproject.toml", "README.md", "api", "resolvers", "domain", "tracking", "push",
            "migrations", "config"}
    assert not kept & ignored
    assert not [p for p in ignored if "*" in p and any(Path(k).match(p) for k in kept)]
