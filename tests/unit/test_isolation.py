"""The isolation rule, in code: the two nodes never import each other, and the shared packages import
neither node. Checked on the whole import graph (static, transitive) and on what really gets imported."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("internal_node", "public_node", "transfer", "keys", "nodekit", "exchange")

# package -> packages of ours it must never reach, directly or through others
FORBIDDEN: dict[str, set[str]] = {
    "internal_node": {"public_node"},
    "public_node": {"internal_node"},
    "exchange": {"internal_node", "public_node"},
    "nodekit": {"internal_node", "public_node", "exchange"},
    "transfer": {"internal_node", "public_node", "nodekit", "exchange"},
    "keys": {"internal_node", "public_node", "nodekit", "exchange", "transfer"},
}


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports_of(module: str, path: Path, is_package: bool) -> set[str]:
    """Every module named by an import in the file: top-level or nested, relative ones resolved,
    plus string literals given to importlib.import_module / __import__."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if name in ("import_module", "__import__") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
    return {f for f in found if f.split(".")[0] in OURS}


def import_graph(root: Path) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for pkg in OURS:
        for path in sorted((root / pkg).rglob("*.py")):
            mod = _module_name(root, path)
            graph[mod] = _imports_of(mod, path, path.name == "__init__.py")
    return graph


def find_violations(root: Path) -> list[str]:
    """Return one line per forbidden path in the import graph, e.g. ``a -> b -> public_node.x``."""
    graph = import_graph(root)
    known = set(graph)

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    problems: list[str] = []
    for start in sorted(graph):
        banned = FORBIDDEN[start.split(".")[0]]
        seen = {start}
        queue: deque[list[str]] = deque([[start]])
        while queue:
            path = queue.popleft()
            for raw in sorted(graph[path[-1]]):
                top = raw.split(".")[0]
                if top in banned:
                    problems.append(" -> ".join([*path, raw]))
                    continue
                nxt = resolve(raw)
                if nxt is not None and nxt not in seen:
                    seen.add(nxt)
                    queue.append([*path, nxt])
    return problems


def test_the_real_tree_obeys_the_isolation_rule() -> None:
    graph = import_graph(ROOT)
    assert len(graph) > 10, "the walker found the packages"
    assert find_violations(ROOT) == []


@pytest.mark.parametrize(
    ("where", "code", "expected"),
    [
        ("internal_node/_leak.py", "import public_node\n", "internal_node._leak -> public_node"),
        (
            "public_node/_leak.py",
            "def f():\n    from internal_node import cli\n",
            "public_node._leak -> internal_node",
        ),
        (
            "transfer/_leak.py",
            "import importlib\nimportlib.import_module('public_node.cli')\n",
            "transfer._leak -> public_node",
        ),
        ("nodekit/_leak.py", "from internal_node.cli import main\n", "nodekit._leak -> internal_node"),
        ("keys/_leak.py", "from nodekit import db\n", "keys._leak -> nodekit"),
        ("exchange/_leak.py", "from public_node import store\n", "exchange._leak -> public_node"),
        ("nodekit/_leak2.py", "from exchange import engine\n", "nodekit._leak2 -> exchange"),
    ],
)
def test_a_forbidden_import_is_caught(tmp_path: Path, where: str, code: str, expected: str) -> None:
    for pkg in OURS:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / where).write_text(code)
    problems = find_violations(tmp_path)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_transitive_leak_is_caught(tmp_path: Path) -> None:
    """internal_node -> nodekit -> public_node is a leak too, reported with its whole path."""
    for pkg in OURS:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "nodekit" / "_bridge.py").write_text("import public_node\n")
    (tmp_path / "internal_node" / "_uses_bridge.py").write_text("from nodekit import _bridge\n")
    problems = find_violations(tmp_path)
    assert "internal_node._uses_bridge -> nodekit._bridge -> public_node" in problems


@pytest.mark.parametrize(("node", "other"), [("internal_node", "public_node"), ("public_node", "internal_node")])
def test_importing_every_module_of_a_node_never_loads_the_other(node: str, other: str) -> None:
    script = textwrap.dedent(f"""
        import importlib, pkgutil, sys
        import {node}
        for info in pkgutil.walk_packages({node}.__path__, "{node}."):
            importlib.import_module(info.name)
        leaked = sorted(m for m in sys.modules if m == "{other}" or m.startswith("{other}."))
        print(",".join(leaked))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""
