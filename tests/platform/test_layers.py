"""The import contracts of pyproject.toml hold: the API calls the resolvers, the resolvers
the domain; the ingester and the push worker use the domain only; settings import nothing
of the project; only the CLI loads the demo."""

from __future__ import annotations

import ast
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


def _loaded(imports: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` a fresh interpreter holds after ``imports``."""
    code = (f"import sys\nimport {imports}\n"
            f"print(','.join(n for n in {names!r} if n in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [n for n in result.stdout.strip().split(",") if n]


def test_the_ingester_simulator_and_push_worker_run_without_the_api_or_the_demo() -> None:
    assert _loaded("tracking.ingester, tracking.simulator, push.worker, push.config",
                   ("api", "resolvers", "demo")) == []


def test_serving_loads_no_demo_data() -> None:
    assert _loaded("api.cli, api.app", ("demo",)) == []


def test_an_area_package_holds_only_its_map() -> None:
    """Callers import an area's modules, never names re-exported by its package."""
    for init in sorted((PROJECT_ROOT / "domain").glob("*/__init__.py")):
        body = ast.parse(init.read_text(encoding="utf-8")).body
        code = [node for node in body
                if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
        assert not code, f"{init.relative_to(PROJECT_ROOT)} holds code besides its docstring"
