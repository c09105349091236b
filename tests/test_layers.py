"""The package's folders are layers, and imports go one way: down.

    cli/  ->  web/  ->  daemon/  ->  pipeline.py  ->  report/  ->  alerting/  ->  detection/
          ->  screening/  ->  ledger/
          ->  audit/  ->  settings/  ->  sql/  ->  errors.py, output.py (and other top-level
          helpers: anyone may import them)

audit/ sits low because every stage above it writes to the hash-chained audit log (ingest,
registry changes, notifications, queries) and the auditors' toolkit needs only the database.
A module may import its own folder and any folder below it, never one above it, and never
a sibling on the same layer. This test reads the imports from the
source (an AST walk, nothing is imported) and fails on an upward or sideways import, on an
import cycle between modules, and on a monitor module imported inside a function (which is
how a cycle hides); optional heavy libraries (pyspark, sqlglot, lxml) may still be imported
late.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "monitor"

# the layers, top first; a layer of several folders is a set of siblings
LAYERS = [{"__main__"}, {"cli"}, {"web"}, {"daemon"}, {"pipeline"}, {"report"}, {"alerting"},
          {"detection"}, {"screening"}, {"ledger"}, {"audit"}, {"settings"}, {"sql"}]
BOTTOM = len(LAYERS)     # errors.py, output.py and any other top-level helper module


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = modules()


def stage(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def layer(module: str) -> int:
    for rank, names in enumerate(LAYERS):
        if stage(module) in names:
            return rank
    return BOTTOM


def target(module: str, name: str | None) -> str:
    """The monitor module an import names: `from monitor.x import y` is monitor.x.y when
    that is a module, else monitor.x."""
    if name and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported monitor module, line, inside a function) for each import in a file."""
    tree = ast.parse(path.read_text("utf-8"))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names
                             if a.name == "monitor" or a.name.startswith("monitor."))
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module and (
                    child.module == "monitor" or child.module.startswith("monitor.")):
                found.extend((target(child.module, a.name), child.lineno, in_function)
                             for a in child.names)
            visit(child, nested)

    visit(tree, False)
    return [(m, line, f) for m, line, f in found if m != "monitor"]


GRAPH = {module: imports(path) for module, path in MODULES.items()}


def test_the_walk_sees_the_package():
    assert "monitor.cli.main" in MODULES and "monitor.sql.store" in MODULES
    assert any(m == "monitor.sql.store" for m, _, _ in GRAPH["monitor.ledger.ingest"])


def test_imports_go_down_only():
    wrong = []
    for module, found in GRAPH.items():
        for imported, line, _ in found:
            if stage(imported) == stage(module):
                continue                               # inside one folder: free
            if layer(imported) < layer(module):
                wrong.append(f"{MODULES[module].relative_to(ROOT)}:{line}: {module} imports "
                             f"{imported}, a layer above it")
            elif layer(imported) == layer(module) and layer(module) != BOTTOM:
                wrong.append(f"{MODULES[module].relative_to(ROOT)}:{line}: {module} imports "
                             f"its sibling {imported}")
    assert not wrong, "\n".join(wrong)


def test_no_monitor_module_is_imported_inside_a_function():
    late = [f"{MODULES[module].relative_to(ROOT)}:{line}: imports {imported} in a function"
            for module, found in GRAPH.items() for imported, line, inside in found if inside]
    assert not late, "\n".join(late)


def test_no_import_cycles():
    edges = {m: sorted({i for i, _, _ in found if i in MODULES and i != m})
             for m, found in GRAPH.items()}
    # Tarjan's strongly connected components: any component of two or more is a cycle
    index, low, on_stack, stack, cycles, counter = {}, {}, set(), [], [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in edges:
        if v not in index:
            strong(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)
