"""The package layout keeps its promises: imports run one way, and private names stay private.

An AST scan of every import in pipeline/ (lazy imports inside functions included), so a circle that
only shows at run time is caught here, not by a user.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text("utf-8")) for p in PACKAGE.rglob("*.py")}


def _imports(tree: ast.Module, known: set[str]) -> list[tuple[str, str, int]]:
    """(module imported, name imported or "", line) for every pipeline import in the tree."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in known:
                    found.append((sub, "", node.lineno))
                else:
                    found.append((node.module, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            found += [
                (a.name, "", node.lineno) for a in node.names if a.name.startswith("pipeline")
            ]
    return found


def test_no_import_circle_between_modules() -> None:
    modules = _modules()
    graph = {
        name: {m for m, _, _ in _imports(tree, set(modules)) if m in modules and m != "pipeline"}
        for name, tree in modules.items()
    }
    visiting: list[str] = []
    done: set[str] = set()
    circles: list[list[str]] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            circles.append(visiting[visiting.index(name) :] + [name])
            return
        visiting.append(name)
        for target in sorted(graph[name]):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert circles == []


def test_no_private_name_is_imported_from_another_module() -> None:
    modules = _modules()
    tests = {
        f"tests.{p.stem}": ast.parse(p.read_text("utf-8"))
        for p in PACKAGE.parent.joinpath("tests").glob("*.py")
    }
    leaks = [
        f"{importer}:{line} imports {name} from {module}"
        for importer, tree in {**modules, **tests}.items()
        for module, name, line in _imports(tree, set(modules))
        if name.startswith("_") and not name.startswith("__") and module != importer
    ]
    assert leaks == []


def test_each_name_is_imported_from_the_module_that_defines_it() -> None:
    """No re-export shims: `from pipeline.x import Name` only where pipeline.x defines Name."""
    modules = _modules()
    defined: dict[str, set[str]] = {}
    for name, tree in modules.items():
        names: set[str] = set()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        defined[name] = names
    tests = {
        f"tests.{p.stem}": ast.parse(p.read_text("utf-8"))
        for p in PACKAGE.parent.joinpath("tests").glob("*.py")
    }
    shims = [
        f"{importer}:{line} imports {name} from {module}, which does not define it"
        for importer, tree in {**modules, **tests}.items()
        for module, name, line in _imports(tree, set(modules))
        if name and module in defined and name not in defined[module]
    ]
    assert shims == []


def test_package_init_files_are_a_short_public_face() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        assert len(init.read_text("utf-8").splitlines()) <= 12, init
