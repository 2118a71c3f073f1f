"""The package layout is the architecture: imports run down the data flow, never up, never in a circle, never hidden.

Layers, lowest first: the model packages (`dssm`, `summarizer`), then `pipelines.artifacts` and
the data wing, training, understanding (ALBERT, tagger, classifier), retrieval, evaluation, benchmarks, the demo, the commands, the CLI.
A module may import its own layer or lower ones only; imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    ("dssm", "summarizer"),
    ("pipelines.artifacts", "pipelines.data"),
    ("pipelines.training",),
    ("pipelines.understanding",),
    ("pipelines.retrieval",),
    ("pipelines.evaluation",),
    ("pipelines.bench",),
    ("pipelines.demo",),
    ("pipelines.commands",),
    ("pipelines.cli",),
]


def layer(module: str) -> int:
    for i, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return -1  # the `pipelines` package docstring itself


def modules() -> dict[str, Path]:
    out = {}
    for pkg in ("dssm", "summarizer", "pipelines"):
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path: Path, known: set[str]) -> set[str]:
    """Every project module `path` imports (top level or inside a function), resolved to the longest known name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: {i for i in imports(p, known) if i != m and not m.startswith(i + ".")} for m, p in mods.items()}


def test_no_module_imports_a_layer_above_it():
    g = graph()
    assert {"pipelines.commands.index", "pipelines.commands.demo"} <= g["pipelines.cli"] and "pipelines.retrieval.index" in g["pipelines.evaluation.arms"]  # the graph is read
    upward = [(m, i) for m, deps in g.items() for i in deps if layer(i) > layer(m)]
    assert not upward, f"imports that run up the data flow: {upward}"


def test_no_import_loops():
    g = graph()
    state: dict[str, int] = {}
    loops = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for i in sorted(g.get(m, ())):
            if state.get(i) == 1:
                loops.append(stack[stack.index(i):] + [i])
            elif i not in state:
                visit(i, stack + [i])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert not loops, f"import loops: {loops}"


def test_no_hidden_imports_and_no_private_names_across_modules():
    for m, path in modules().items():
        text = path.read_text(encoding="utf-8")
        assert "import_module" not in text and "__import__" not in text, f"{path}: an import hidden from readers and tools"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("dssm", "summarizer", "pipelines"):
                private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__future__"]
                assert not private, f"{path}: imports private {private} from {node.module}"
