"""The package's plan, kept true: layers whose imports go one way, no import cycles, small
files, functions and folders.

The layer table is read from README.md ("Layout and data flow", the block that starts with
`layer`), so the README and this test cannot drift. Imports are read with `ast` from every
module of strict_tracer/, symbolic/ (strict_tracer.symbolic) and ops/ (strict_tracer.ops):
module-level and function-level, except those under `if TYPE_CHECKING:`.
"""
from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Where each installed package's source lives (pyproject's package-dir mapping).
SOURCE_ROOTS = {
    "strict_tracer": REPO / "strict_tracer",
    "strict_tracer.symbolic": REPO / "symbolic",
    "strict_tracer.ops": REPO / "ops",
}
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60
MAX_FOLDER_MODULES = 15



# ---------------------------------------------------------------------- reading the package
@lru_cache(maxsize=None)
def modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the installed package."""
    found: dict[str, Path] = {}
    for package, root in SOURCE_ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if package == "strict_tracer" and parts[0] in ("symbolic", "ops"):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_names(module: str, path: Path, tree: ast.AST) -> list[tuple[str, int]]:
    """(dotted name, line) of every import outside `if TYPE_CHECKING:` blocks."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit_node(other)
            else:
                visit_node(child)

    def visit_node(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            names.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                prefix = package[:len(package) - (node.level - 1)]
                base = ".".join(prefix + ([node.module] if node.module else []))
            for alias in node.names:
                names.append((f"{base}.{alias.name}", node.lineno))
        else:
            visit(node)

    visit(tree)
    return names


@lru_cache(maxsize=None)
def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported package module: line}. `from pkg import name` counts as an
    import of the submodule pkg.name when there is one, else of pkg itself."""
    mods = modules()
    graph: dict[str, dict[str, int]] = {}
    for module, path in mods.items():
        edges: dict[str, int] = {}
        for name, line in _imported_names(module, path, ast.parse(path.read_text())):
            while name and name not in mods:
                name = name.rpartition(".")[0]
            if name and name != module:
                edges.setdefault(name, line)
        graph[module] = edges
    return graph


# ---------------------------------------------------------------------- the layer table
@lru_cache(maxsize=None)
def layer_table() -> list[tuple[str, list[str]]]:
    """[(layer, [module patterns])] lowest first, from the README's layer block. A pattern
    `x/` names a package and everything under it (symbolic/ and ops/ are
    strict_tracer.symbolic and strict_tracer.ops); `x` names strict_tracer.x."""
    text = (REPO / "README.md").read_text()
    section = text.split("### Layout and data flow", 1)[1]
    block = re.search(r"```\n(layer .*?)```", section, re.S)
    assert block, "README 'Layout and data flow' has no layer block (a ``` block starting 'layer')"
    table = []
    for line in block.group(1).splitlines()[1:]:
        if not line.strip():
            continue
        layer, *patterns = line.split("#")[0].split()
        table.append((layer, patterns))
    return table


def _pattern_module(pattern: str) -> str:
    name = pattern.rstrip("/").replace("/", ".")
    return "strict_tracer" if name == "__init__" else f"strict_tracer.{name}"


def layer_of(module: str) -> tuple[int, str] | None:
    """The (rank, layer) of `module`: its most specific pattern's layer."""
    best: tuple[int, int, str] | None = None
    for rank, (layer, patterns) in enumerate(layer_table()):
        for pattern in patterns:
            target = _pattern_module(pattern)
            exact = module == target
            inside = pattern.endswith("/") and module.startswith(target + ".")
            if (exact or inside or (pattern.endswith("/") and module == target)) and (
                    best is None or len(target) > best[0]):
                best = (len(target), rank, layer)
    return None if best is None else (best[1], best[2])


# ---------------------------------------------------------------------- the checks
def test_every_module_has_a_layer():
    missing = sorted(m for m in modules() if layer_of(m) is None)
    assert not missing, f"modules in no layer of README's layer block: {missing}"


def test_every_layer_pattern_names_modules():
    mods = modules()
    for layer, patterns in layer_table():
        for pattern in patterns:
            target = _pattern_module(pattern)
            assert any(m == target or m.startswith(target + ".") for m in mods), (
                f"README layer {layer!r} names {pattern!r}, which is no module")


def upward_imports() -> set[str]:
    found = set()
    for module, edges in import_graph().items():
        rank = layer_of(module)
        for target in edges:
            target_rank = layer_of(target)
            if rank and target_rank and target_rank[0] > rank[0]:
                found.add(f"{module} -> {target}")
    return found


def test_imports_go_down_the_layers():
    upward = sorted(upward_imports())
    lines = [f"{edge}  (line {import_graph()[edge.split(' -> ')[0]][edge.split(' -> ')[1]]})"
             for edge in upward]
    assert not upward, "imports against the layer order (README 'Layout and data flow'):\n" + \
        "\n".join(lines)


def import_cycles(skip: set[str]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan, iterative)."""
    graph = {m: [t for t in edges if f"{m} -> {t}" not in skip]
             for m, edges in import_graph().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_no_import_cycles():
    cycles = import_cycles(set())
    assert not cycles, "import cycles:\n" + "\n".join(
        f"{len(group)} modules: {group}" for group in cycles)


def test_the_cycle_check_finds_cycles():
    graph = import_graph()
    module, target = next((m, t) for m, edges in graph.items() for t in edges)
    graph[target][module] = 0
    try:
        assert any(module in group and target in group for group in import_cycles(set()))
    finally:
        del graph[target][module]


# ---------------------------------------------------------------------- sizes
def _relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def test_files_are_small():
    long = {_relative(p) for p in modules().values()
            if len(p.read_text().splitlines()) > MAX_FILE_LINES}
    assert not long, f"files over {MAX_FILE_LINES} lines: {sorted(long)}"


def test_functions_are_short():
    long = set()
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long.add(f"{_relative(path)}:{node.name}")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {sorted(long)}"


def test_folders_are_small():
    counts: dict[str, int] = {}
    for path in modules().values():
        if path.name != "__init__.py":
            folder = _relative(path.parent)
            counts[folder] = counts.get(folder, 0) + 1
    big = {folder for folder, n in counts.items() if n > MAX_FOLDER_MODULES}
    assert not big, f"folders over {MAX_FOLDER_MODULES} modules: { {f: counts[f] for f in sorted(big)} }"


def test_pyproject_installs_every_package():
    """A fresh install (.ci/run) finds every sub-package only if pyproject lists it (and maps
    the ones under symbolic/ and ops/)."""
    import tomllib
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    packages = {m for m, p in modules().items() if p.name == "__init__.py"}
    assert packages == listed, (f"not in pyproject: {sorted(packages - listed)}; "
                                f"listed but missing: {sorted(listed - packages)}")
    for package in packages:
        if package.startswith(("strict_tracer.ops", "strict_tracer.symbolic")):
            where = config["package-dir"].get(package)
            assert where and (REPO / where / "__init__.py") == modules()[package], package
