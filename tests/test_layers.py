"""The import contracts of pyproject.toml hold: the API calls the resolvers, the resolvers
the domain; the ingester and the push worker use the domain only; settings import nothing
of the project; only the CLI loads the demo."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

from settings import PROJECT_ROOT

CONTRACTS = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_every_process_package_is_under_contract() -> None:
    packages = {p.parent.name for p in PROJECT_ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert set(CONTRACTS["root_packages"]) == packages


def test_the_import_contracts_hold() -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                               "lint_imports_command()", "--no-cache"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = [line for line in result.stdout.splitlines() if line.endswith(" KEPT")]
    assert len(kept) == len(CONTRACTS["contracts"]) == 5
