"""The architecture holds: the import-linter contracts of pyproject.toml pass (layers, no Flask
below the web, no cycles), each of them fails on a planted violation, no module-level import
cycle exists anywhere (parent packages included), and the top of `connector/` stays small."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run([str(LINT_IMPORTS), "--no-logo", "--no-cache"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_contracts_are_kept() -> None:
    ran = _lint_imports(ROOT)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "0 broken" in ran.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    # an upward import: the customer domain reaching for the web layer
    ("customer/kpis.py", "import connector.web", "Layers"),
    # a sibling import between independent layers: a helpdesk adapter reading a source
    ("helpdesk/base.py", "import connector.sources.base", "Layers"),
    # Flask below the web layer
    ("sources/rest.py", "import flask", "know Flask"),
    # a cycle inside one package (schema <-> engine)
    ("store/schema.py", "import connector.store.engine", "No import cycles"),
])
def test_each_contract_fails_on_a_violation(tmp_path: Path, module: str, line: str,
                                            broken: str) -> None:
    shutil.copytree(ROOT / "connector", tmp_path / "connector",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / "connector" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    ran = _lint_imports(tmp_path)
    assert ran.returncode != 0, ran.stdout
    summary = " ".join(ran.stdout.split())  # contract names wrap across lines
    assert re.search(re.escape(broken) + r"(?:(?!KEPT).)*? BROKEN", summary), ran.stdout


def test_no_module_level_import_cycle() -> None:
    """Every import counts, lazy and TYPE_CHECKING ones too, and a package's `__init__` with
    its own modules (which acyclic_siblings does not look at)."""
    graph = grimp.build_graph("connector", include_external_packages=False)
    modules = sorted(graph.modules)
    cycles = _strongly_connected(
        {m: graph.find_modules_directly_imported_by(m) for m in modules})
    assert cycles == [], cycles


def test_the_top_of_the_package_stays_small() -> None:
    modules = [p.name for p in (ROOT / "connector").glob("*.py") if p.name != "__init__.py"]
    assert len(modules) <= 10, sorted(modules)


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found
