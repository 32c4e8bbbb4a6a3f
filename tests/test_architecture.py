"""The package's shape holds: public Dagster APIs only, one place that reads the environment, no
import cycles, small modules, orchestrator-free lower layers, and each fact of the API defined once.

Everything here reads source with ``ast`` (nothing is imported but in the subprocess checks), so a
failure names the file and line to fix.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from cleanlist_pipeline import contract

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cleanlist_pipeline"

#: The only module allowed to read the process environment (``settings_from_env``). The sandbox's
#: CLI is a separate program and could read its own variables, but it takes flags only.
ENV_READERS = frozenset({"settings.py"})
#: The hot inner loop of CSV scanning is kept in one module on purpose (see its docstring).
MAX_LINES = 500
LONG_MODULES = frozenset({"ingest/reader.py"})
#: Non-public Dagster methods (instance storage internals, test-only sensor evaluation).
PRIVATE_DAGSTER_ATTRS = frozenset(
    {"run_storage", "_run_storage", "evaluate_tick", "get_repository_def"}
)
ENV_ATTRS = frozenset({"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"})


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. cleanlist_pipeline.api.client
    path: Path
    tree: ast.Module
    lines: int

    @property
    def rel(self) -> str:
        return self.path.relative_to(PACKAGE).as_posix()

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"

    def where(self, node: ast.AST) -> str:
        return f"cleanlist_pipeline/{self.rel}:{getattr(node, 'lineno', 0)}"


@cache
def modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        text = path.read_text(encoding="utf-8")
        name = ".".join(parts)
        found[name] = Module(name, path, ast.parse(text, str(path)), len(text.splitlines()))
    return found


def _absolute(mod: Module, node: ast.ImportFrom) -> str:
    """The module an ``ImportFrom`` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = mod.name.split(".")
    if not mod.is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported_names(mod: Module) -> Iterator[tuple[ast.AST, str]]:
    """Every module name ``mod`` imports, anywhere in it (top level, functions, TYPE_CHECKING);
    ``from pkg import sub`` yields ``pkg.sub`` when ``sub`` is a module."""
    known = modules()
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(mod, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield node, sub if sub in known else target


# --- (a) public Dagster APIs only -----------------------------------------------------------


def test_no_private_dagster_imports_or_methods() -> None:
    offenders = []
    for mod in modules().values():
        dagster_aliases = set()
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "dagster":
                        dagster_aliases.add(alias.asname or "dagster")
        for node, name in imported_names(mod):
            if name.startswith("dagster._") or ".dagster._" in f".{name}":
                offenders.append(f"{mod.where(node)} imports {name}")
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.Attribute):
                if node.attr in PRIVATE_DAGSTER_ATTRS:
                    offenders.append(f"{mod.where(node)} uses .{node.attr}")
                elif (
                    isinstance(node.value, ast.Name)
                    and node.value.id in dagster_aliases
                    and node.attr.startswith("_")
                ):
                    offenders.append(f"{mod.where(node)} uses {node.value.id}.{node.attr}")
            elif isinstance(node, ast.Call) and node.args:
                first = node.args[0]
                if (
                    isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                    and first.value.startswith("dagster._")
                ):
                    offenders.append(f"{mod.where(node)} loads {first.value} dynamically")
    unique = list(dict.fromkeys(offenders))  # `from x import a, b` names x once per alias
    assert not unique, "non-public Dagster APIs:\n" + "\n".join(unique)


# --- (b) one place reads the environment ------------------------------------------------------


def test_only_settings_reads_the_environment() -> None:
    offenders = []
    for mod in modules().values():
        if mod.rel in ENV_READERS:
            continue
        os_aliases = {"os"}
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.Import):
                os_aliases |= {a.asname or a.name for a in node.names if a.name == "os"}
            elif isinstance(node, ast.ImportFrom) and node.module == "os":
                for alias in node.names:
                    if alias.name in ENV_ATTRS:
                        offenders.append(f"{mod.where(node)} imports os.{alias.name}")
        for node in ast.walk(mod.tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ENV_ATTRS
                and isinstance(node.value, ast.Name)
                and node.value.id in os_aliases
            ):
                offenders.append(f"{mod.where(node)} reads os.{node.attr}")
    assert not offenders, (
        "only cleanlist_pipeline/settings.py (settings_from_env) may read the environment; "
        "pass a Settings value down instead:\n" + "\n".join(offenders)
    )


# --- (c) no import cycles ------------------------------------------------------------------


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for mod in known.values():
        for _, name in imported_names(mod):
            # ``import a.b.c`` names a.b.c; an edge goes to the deepest module of ours it names.
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != mod.name:
                graph[mod.name].add(name)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path ``a, b, …, a``) per strongly connected component that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan; the graph has ~150 nodes, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    cycles = []
    for comp in components:
        members = set(comp)
        start = comp[0]
        # shortest way back to start inside the component (BFS)
        prev: dict[str, str] = {}
        queue = [start]
        found = None
        while queue and found is None:
            nxt = []
            for v in queue:
                for w in sorted(graph[v] & members):
                    if w == start:
                        found = v
                        break
                    if w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if found is not None:
                    break
            queue = nxt
        path = [start]
        v = found
        while v is not None and v != start:
            path.append(v)
            v = prev.get(v)
        cycles.append([start, *reversed(path[1:]), start])
    return cycles


def test_cycle_finder_reports_the_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles (top-level, function-level and TYPE_CHECKING imports):\n" + (
        "\n".join(" -> ".join(c) for c in cycles)
    )


# --- (d) small modules -----------------------------------------------------------------------


def test_no_module_over_500_lines() -> None:
    long = [
        f"cleanlist_pipeline/{m.rel}: {m.lines} lines"
        for m in modules().values()
        if m.lines > MAX_LINES and m.rel not in LONG_MODULES
    ]
    assert not long, f"modules over {MAX_LINES} lines (split them by role):\n" + "\n".join(long)


# --- (e) the lower layers import no orchestrator ------------------------------------------------


def _loaded_after_importing(packages: list[str]) -> set[str]:
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {packages!r}:\n"
        "    pkg = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(getattr(pkg, '__path__', []), name + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "packages",
    [
        ["cleanlist_pipeline.api"],
        ["cleanlist_pipeline.ingest"],
        ["cleanlist_pipeline.storage"],
        ["cleanlist_pipeline.dropstore", "cleanlist_pipeline.contract", "cleanlist_pipeline.b64"],
        [
            "cleanlist_pipeline.drop_scan",
            "cleanlist_pipeline.list_snapshot",
            "cleanlist_pipeline.spend_rules",
            "cleanlist_pipeline.enrich_dispatch",
            "cleanlist_pipeline.uris",
            "cleanlist_pipeline.client_factory",
        ],
    ],
    ids=["api", "ingest", "storage", "dropstore", "shared-by-both-orchestrators"],
)
def test_lower_layers_import_no_orchestrator(packages: list[str]) -> None:
    loaded = _loaded_after_importing(packages)
    orchestrators = sorted(
        m for m in loaded if m.split(".")[0] in {"dagster", "dagster_shared", "airflow"}
    )
    assert not orchestrators, f"{packages} load {orchestrators[:5]}"
    layers = sorted(
        m
        for m in loaded
        if m.split(".")[:2]
        in (
            ["cleanlist_pipeline", "dagster_layer"],
            ["cleanlist_pipeline", "cli"],
            ["cleanlist_pipeline", "airflow"],
        )
    )
    assert not layers, f"{packages} load the layers above them: {layers}"


def test_contract_imports_only_the_standard_library() -> None:
    code = (
        "import sys; before = set(sys.modules); import cleanlist_pipeline.contract;"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    new = {m.split(".")[0] for m in out.stdout.split()}
    assert new - set(sys.stdlib_module_names) <= {"cleanlist_pipeline"}, sorted(new)


# --- (f) each fact of the API is defined once -------------------------------------------------

ENRICHMENT_SPELLINGS = frozenset({*contract.ENRICHMENT_TYPES, *contract.BULK_SCOPE.values()})


def _strings(nodes: list[ast.expr | None]) -> list[str]:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def fact_redefinitions(mod: Module) -> Iterator[str]:
    """Literals in ``mod`` that restate a fact ``contract.py`` holds."""
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Dict):
            keys = set(_strings(node.keys))
            if len(keys & ENRICHMENT_SPELLINGS) >= 2:
                yield f"{mod.where(node)}: a dict keyed by enrichment types {sorted(keys)}"
        elif isinstance(node, ast.Set | ast.List | ast.Tuple):
            values = set(_strings(node.elts))
            if {"completed", "failed", "cancelled"} <= values or values == {"failed", "cancelled"}:
                yield f"{mod.where(node)}: workflow statuses {sorted(values)}"
            if set(contract.ENRICHMENT_TYPES) <= values:
                yield f"{mod.where(node)}: the enrichment types {sorted(values)}"
            if len(values & set(contract.LEAD_FIELDS)) >= len(contract.LEAD_FIELDS) - 1:
                yield f"{mod.where(node)}: the lead fields"
        elif isinstance(node, ast.Constant) and not isinstance(node.value, bool):
            if node.value in (contract.DEFAULT_BASE_URL, contract.V1_PREFIX):
                yield f"{mod.where(node)}: {node.value!r}"
            elif node.value == contract.CSV_IMPORT_MAX_BYTES:
                yield f"{mod.where(node)}: the CSV import byte limit {node.value}"


def test_fact_finder_sees_a_restated_fact() -> None:
    source = (
        "COSTS = {'partial': 1, 'phone_only': 10, 'full': 11}\n"
        "DONE = frozenset({'completed', 'failed', 'cancelled'})\n"
        "URL = 'https://api.cleanlist.ai/api/v1/public'\n"
    )
    mod = Module("x", PACKAGE / "x.py", ast.parse(source), 3)
    assert len(list(fact_redefinitions(mod))) == 3


def test_api_facts_are_defined_only_in_contract() -> None:
    offenders = [
        line
        for mod in modules().values()
        if mod.rel != "contract.py" and not mod.rel.startswith("sandbox/")
        for line in fact_redefinitions(mod)
    ]
    assert not offenders, (
        "facts of the API restated outside cleanlist_pipeline/contract.py (import them from "
        "there; only the sandbox keeps its own reading):\n" + "\n".join(offenders)
    )


# --- (g) the two orchestrators never import each other ------------------------------------------

AIRFLOW_PACKAGE = "cleanlist_pipeline.airflow"
DAGSTER_SIDE = ("dagster", "dagster_shared", "cleanlist_pipeline.dagster_layer")


def _is_airflow_module(name: str) -> bool:
    return name == AIRFLOW_PACKAGE or name.startswith(AIRFLOW_PACKAGE + ".")


def test_airflow_provider_imports_no_dagster() -> None:
    offenders = [
        f"{mod.where(node)} imports {name}"
        for mod in modules().values()
        if _is_airflow_module(mod.name)
        for node, name in imported_names(mod)
        if name in DAGSTER_SIDE or name.startswith(tuple(f"{d}." for d in DAGSTER_SIDE))
        or name in ("cleanlist_pipeline.definitions", "cleanlist_pipeline.defs")
    ]
    assert not offenders, (
        "the Airflow provider must not import Dagster or the Dagster layer (move the pure part "
        "into an orchestrator-free module both use):\n" + "\n".join(offenders)
    )
    # and at run time, through everything it imports (Airflow itself included)
    loaded = _loaded_after_importing([AIRFLOW_PACKAGE])
    dagster = sorted(m for m in loaded if m.startswith(DAGSTER_SIDE))
    assert not dagster, f"importing {AIRFLOW_PACKAGE} loads {dagster[:5]}"


def test_dagster_side_imports_no_airflow() -> None:
    offenders = [
        f"{mod.where(node)} imports {name}"
        for mod in modules().values()
        if not _is_airflow_module(mod.name)
        for node, name in imported_names(mod)
        if name == "airflow" or name.startswith("airflow.") or _is_airflow_module(name)
    ]
    assert not offenders, (
        "only cleanlist_pipeline/airflow/ may import Airflow (or the provider):\n"
        + "\n".join(offenders)
    )
