"""`keylink import`: a file of records applied as the API applies a body, run as an
operator runs it (a separate process, settings from the environment); and `keylink token`
issuing a plant system's token."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from api.auth import TokenCodec
from settings import PROJECT_ROOT, Settings
from tests.feeds.support import ndjson, org

SECRET = "s" * 40
SETTING_VARS = {f.metadata["env"] for f in Settings.__dataclass_fields__.values()}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in SETTING_VARS}
    return {**clean, "KEYLINK_STATE_DIR": str(tmp_path / "state")}


def keylink(env: dict[str, str], *args: str, stdin: bytes | None = None,
            ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "api.cli", *args], env=env,
                            cwd=PROJECT_ROOT, capture_output=True, timeout=120,
                            input=stdin)
    return subprocess.CompletedProcess(result.args, result.returncode,
                                       result.stdout.decode(), result.stderr.decode())


async def codes(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        return {r["code"] for r in await conn.fetch("SELECT code FROM organization")}
    finally:
        await conn.close()


async def test_a_dry_run_writes_nothing_then_the_import_writes(
        env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    records = tmp_path / "parties.ndjson"
    records.write_bytes(ndjson([org("ACME"), org("NORTHWIND", 2, kind="carrier")]))

    dry = keylink(env, "import", str(records), "--dry-run", "--database-url", database_url)
    after_dry = await codes(database_url)
    real = keylink({**env, "DATABASE_URL": database_url}, "import", str(records))
    again = keylink({**env, "DATABASE_URL": database_url}, "import", str(records), "--json")

    assert dry.returncode == 0, dry.stderr
    assert "checked (a dry run: nothing is written)" in dry.stdout
    assert "2 applied" in dry.stdout
    assert after_dry == set()
    assert real.returncode == 0, real.stderr
    assert "committed" in real.stdout and "2 applied" in real.stdout
    assert await codes(database_url) == {"ACME", "NORTHWIND"}
    assert again.returncode == 0
    result = json.loads(again.stdout)
    assert (result["applied"], result["unchanged"], result["status"]) == (0, 2, "committed")
    conn = await asyncpg.connect(database_url)
    try:
        actors = await conn.fetch("SELECT DISTINCT submitted_by FROM feed_batch")
    finally:
        await conn.close()
    assert [a["submitted_by"] for a in actors] == ["keylink:import"]


async def test_rejected_records_are_listed_and_the_exit_code_says_so(
        env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    env = {**env, "DATABASE_URL": database_url}
    records = tmp_path / "parties.ndjson"
    bad_kind = org("GLOBEX") | {"data": {"name": "Globex", "kind": "supplier"}}
    records.write_bytes(ndjson([org("ACME"), "{not json", bad_kind]))

    all_or_nothing = keylink(env, "import", str(records))
    after_all = await codes(database_url)
    each = keylink(env, "import", str(records), "--mode", "each")

    assert all_or_nothing.returncode == 1
    out = all_or_nothing.stdout
    assert "rejected: nothing is written" in out
    assert "line 2: " in out and "MALFORMED" in out
    assert "line 3: organization GLOBEX, data.kind: " in out
    assert after_all == set()
    assert each.returncode == 1
    assert "committed" in each.stdout and "1 applied" in each.stdout
    assert await codes(database_url) == {"ACME"}


async def test_a_gzipped_file_or_standard_input_is_read_as_it_comes(
        env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    env = {**env, "DATABASE_URL": database_url}
    packed = tmp_path / "parties.ndjson.gz"
    packed.write_bytes(gzip.compress(ndjson(org(f"C{n:05d}") for n in range(3_000))))

    from_file = keylink(env, "import", str(packed))
    from_stdin = keylink(env, "import", "-", stdin=ndjson([org("ACME")]))

    assert from_file.returncode == 0, from_file.stderr
    assert "3,000 applied" in from_file.stdout
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert len(await codes(database_url)) == 3_001


def test_a_missing_file_or_database_cannot_start(env: dict[str, str], tmp_path: Path) -> None:
    missing = keylink({**env, "DATABASE_URL": "postgresql://db.invalid/keylink"}, "import",
                      str(tmp_path / "nothing.ndjson"))
    records = tmp_path / "parties.ndjson"
    records.write_bytes(ndjson([org("ACME")]))
    no_database = keylink(env, "import", str(records))

    assert missing.returncode == 2 and "no file" in missing.stderr
    assert no_database.returncode == 2 and "DATABASE_URL" in no_database.stderr


def test_token_issues_a_plant_systems_token_with_its_kinds(env: dict[str, str]) -> None:
    env = {**env, "KEYLINK_JWT_SECRET": SECRET}

    issued = keylink(env, "token", "--org", "BAOSTEEL", "--role", "integration",
                     "--kinds", "organization", "--sub", "erp")
    unknown = keylink(env, "token", "--org", "BAOSTEEL", "--role", "integration",
                      "--kinds", "janitor")
    without = keylink(env, "token", "--org", "BAOSTEEL", "--role", "integration")

    assert issued.returncode == 0, issued.stderr
    claims = TokenCodec.from_settings(Settings(jwt_secret=SECRET)).verify(issued.stdout.strip())
    assert claims.roles == {"integration"} and claims.feeds == {"organization"}
    assert unknown.returncode == 2 and "janitor" in unknown.stderr
    assert without.returncode == 2 and "kinds" in without.stderr


def test_import_explains_itself(env: dict[str, str]) -> None:
    result = keylink(env, "import", "--help")

    assert result.returncode == 0
    assert "usage: keylink import" in result.stdout and "Exit codes" in result.stdout
