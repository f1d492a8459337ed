"""The app's shape: no import cycles, hidden in a function or not, and nothing of the example site
or the sandbox in the app (but for sandbox mode's one, explicit, import)."""

import ast
from pathlib import Path

import inbox_intake

APP = Path(inbox_intake.__file__).parent
#: The sandbox's credentials, imported only in sandbox mode, where checks.py requires the app.
ALLOWED_OUTSIDE_IMPORTS = {("inbox_intake.conf", "wix_sandbox.conf")}


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (a function's body included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: len(package.split(".")) - max(node.level - 1, 0)]
            base = ".".join([*parts, node.module] if node.level and node.module else parts)
            base = base if node.level else node.module
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def app_graph() -> dict[str, set[str]]:
    modules = {
        module_name(path): path
        for path in APP.rglob("*.py")
        if "migrations" not in path.parts and "tests" not in path.parts
    }
    return {name: imports_of(path) for name, path in modules.items()}


def test_no_import_cycles():
    graph = app_graph()
    edges = {name: {target for target in found if target in graph} for name, found in graph.items()}
    cycles = []

    def visit(name, trail):
        for target in edges[name] - {name}:
            if target in trail:
                cycles.append(" → ".join([*trail[trail.index(target) :], target]))
            elif target not in done:
                visit(target, [*trail, target])
        done.add(name)

    done: set[str] = set()
    for name in sorted(edges):
        if name not in done:
            visit(name, [name])
    assert cycles == []


def test_the_app_needs_neither_the_example_site_nor_the_sandbox():
    reaching_out = {
        (name, target)
        for name, found in app_graph().items()
        for target in found
        if target.split(".")[0] in ("site_project", "wix_sandbox", "bench", "tests")
        and not any(
            name == allowed_from and (target == allowed or target.startswith(f"{allowed}."))
            for allowed_from, allowed in ALLOWED_OUTSIDE_IMPORTS
        )
    }

    assert reaching_out == set()
