"""The `keylink` command, run as a user runs it: a separate process, settings from the env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from api.auth import TokenCodec
from api.embedded import free_port, with_database
from settings import PROJECT_ROOT, Settings

SECRET = "s" * 40
SETTING_VARS = {f.metadata["env"] for f in Settings.__dataclass_fields__.values()}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The test process's environment without any Keylink setting, and its own state dir."""
    clean = {k: v for k, v in os.environ.items() if k not in SETTING_VARS}
    return {**clean, "KEYLINK_STATE_DIR": str(tmp_path / "state")}


def keylink(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], env=env, cwd=PROJECT_ROOT,
        capture_output=True, text=True, timeout=60,
    )


def test_serve_refuses_to_start_without_a_token_key(env: dict[str, str]) -> None:
    result = keylink({**env, "DATABASE_URL": "postgresql://db.invalid/keylink"}, "serve")

    assert result.returncode == 2
    assert "KEYLINK_JWT_SECRET" in result.stderr


def test_serve_refuses_to_start_without_a_database(env: dict[str, str]) -> None:
    result = keylink({**env, "KEYLINK_JWT_SECRET": SECRET}, "serve")

    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr


def test_a_malformed_setting_is_named(env: dict[str, str]) -> None:
    result = keylink({**env, "KEYLINK_PORT": "eighty"}, "migrate")

    assert result.returncode == 2
    assert "KEYLINK_PORT" in result.stderr


def test_migrate_applies_pending_files_then_has_nothing_to_do(
    env: dict[str, str], empty_database_url: str
) -> None:
    env = {**env, "DATABASE_URL": empty_database_url}

    first = keylink(env, "migrate")
    again = keylink(env, "migrate")

    assert first.returncode == 0, first.stderr
    for path in sorted((PROJECT_ROOT / "domain" / "migrations").glob("*.sql")):
        assert f"applied {path.name}" in first.stdout
    assert again.returncode == 0 and "up to date" in again.stdout


async def test_a_failing_migration_is_named_and_exits_1(
    env: dict[str, str], empty_database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_broken.sql").write_text("CREATE TABLE half (id int); SELECT nonsense;")
    env = {**env, "DATABASE_URL": empty_database_url, "KEYLINK_MIGRATIONS_DIR": str(folder)}

    result = keylink(env, "migrate")

    assert result.returncode == 1
    assert "0001_broken.sql" in result.stderr
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
    finally:
        await conn.close()


def test_migrate_without_migrations_fails_and_names_the_setting(
    env: dict[str, str], empty_database_url: str, tmp_path: Path
) -> None:
    env = {**env, "DATABASE_URL": empty_database_url,
           "KEYLINK_MIGRATIONS_DIR": str(tmp_path / "nothing-here")}

    result = keylink(env, "migrate")

    assert result.returncode == 2
    assert "no migrations" in result.stderr and "KEYLINK_MIGRATIONS_DIR" in result.stderr
    assert "up to date" not in result.stdout


def test_token_carries_the_configured_issuer_audience_and_claims(env: dict[str, str]) -> None:
    import jwt

    settings = {"KEYLINK_JWT_SECRET": SECRET, "KEYLINK_JWT_ISSUER": "https://keylink.example",
                "KEYLINK_JWT_AUDIENCE": "keylink-api", "KEYLINK_JWT_ORG_CLAIM": "tenant.code"}
    result = keylink({**env, **settings}, "token", "--org", "FAW-VW", "--role", "customer")

    assert result.returncode == 0, result.stderr
    payload = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"],
                         audience="keylink-api", issuer="https://keylink.example")
    assert payload["tenant"] == {"code": "FAW-VW"} and payload["roles"] == ["customer"]

    jwks = {"KEYLINK_JWT_JWKS_URL": "https://idp.example/certs",
            "KEYLINK_JWT_ISSUER": "https://idp.example", "KEYLINK_JWT_AUDIENCE": "keylink-api"}
    refused = keylink({**env, **jwks}, "token", "--org", "FAW-VW", "--role", "customer")
    assert refused.returncode == 2 and "identity provider" in refused.stderr


def test_seed_demo_loads_once(env: dict[str, str], database_url: str) -> None:
    env = {**env, "DATABASE_URL": database_url}

    first = keylink(env, "seed-demo", "--contracts", "5")
    again = keylink(env, "seed-demo", "--contracts", "5")

    assert first.returncode == 0, first.stderr
    assert "5 contracts" in first.stdout
    assert again.returncode == 0 and "already loaded" in again.stdout


def test_token_prints_a_token_that_verifies(env: dict[str, str]) -> None:
    result = keylink(
        {**env, "KEYLINK_JWT_SECRET": SECRET},
        "token", "--org", "BAOSTEEL", "--role", "sales,quality", "--role", "admin",
        "--sub", "mill-clerk", "--ttl", "600",
    )

    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    claims = TokenCodec.from_settings(Settings(jwt_secret=SECRET)).verify(token)
    assert claims.org_code == "BAOSTEEL"
    assert claims.roles == {"sales", "quality", "admin"}
    assert claims.subject == "mill-clerk"


def test_token_uses_the_dev_secret_when_no_key_is_set(env: dict[str, str]) -> None:
    state = Path(env["KEYLINK_STATE_DIR"])
    state.mkdir()
    (state / "jwt-secret").write_text("d" * 64 + "\n")

    result = keylink(env, "token", "--org", "FAW-VW", "--role", "customer")

    assert result.returncode == 0, result.stderr
    claims = TokenCodec.from_settings(Settings(jwt_secret="d" * 64)).verify(result.stdout.strip())
    assert claims.org_code == "FAW-VW" and claims.is_customer


def test_token_without_any_key_says_which_variable_to_set(env: dict[str, str]) -> None:
    result = keylink(env, "token", "--org", "FAW-VW", "--role", "customer")

    assert result.returncode == 2
    assert "KEYLINK_JWT_SECRET" in result.stderr


def test_token_refuses_an_unknown_role(env: dict[str, str]) -> None:
    result = keylink(
        {**env, "KEYLINK_JWT_SECRET": SECRET}, "token", "--org", "FAW-VW", "--role", "janitor"
    )

    assert result.returncode == 2
    assert "janitor" in result.stderr


@pytest.mark.parametrize("command", ["dev", "serve", "migrate", "seed-demo", "token"])
def test_every_command_explains_itself(env: dict[str, str], command: str) -> None:
    result = keylink(env, command, "--help")

    assert result.returncode == 0
    assert f"usage: keylink {command}" in result.stdout
    assert len(result.stdout.splitlines()) > 5


@pytest.mark.parametrize("command", [["migrate"], ["seed-demo", "--contracts", "1"], ["push"],
                                     ["serve"],
                                     ["devices", "add", "GPS-X", "--kind", "gps_unit"],
                                     ["devices", "mosquitto-dynsec"]])
def test_a_database_out_of_reach_is_said_in_one_line(
    env: dict[str, str], pg_admin_url: str, command: list[str]
) -> None:
    """A plant's operator with a wrong DATABASE_URL reads what is wrong, not a traceback,
    and never the password. (`keylink ingest` waits for a database that is away.)"""
    unreachable = f"postgresql://keylink:hunter2hunter2@127.0.0.1:{free_port(0)}/keylink"
    missing = with_database(pg_admin_url, "no_such_database")
    for url in (unreachable, missing):
        result = keylink({**env, "DATABASE_URL": url, "KEYLINK_JWT_SECRET": SECRET,
                          "KEYLINK_INGEST_METRICS_PORT": "0",
                          "MQTT_URL": "mqtt://keylink-ingest:secret@127.0.0.1:1"}, *command)
        assert result.returncode == 1, (url, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith(f"keylink {command[0]}"), result.stderr
        assert ": cannot use the database" in result.stderr, result.stderr
        assert "hunter2" not in result.stderr
