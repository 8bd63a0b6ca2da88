"""The package's layout holds: no import cycles, and no package importing one its docstring does not allow.

Every `import` counts, including those inside functions (kept there to make a
command start fast) and under TYPE_CHECKING: a cycle hidden in either is still
a cycle a reader has to untangle. Each package's `__init__.py` ends its
docstring with a line "May import: ..." naming the packages below it; the
modules directly in proxy/ (errors, config, chat, fingerprint) are the floor every package
may import, and they import no package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PROXY = Path(__file__).resolve().parents[1] / "proxy"
ROOT = ""  # the modules directly in proxy/


def module_name(path: Path) -> str:
    parts = path.relative_to(PROXY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    """`proxy.money.budget` -> "money"; a module directly in proxy/ -> ROOT."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PROXY / parts[1]).is_dir()) else ROOT


MODULES = {module_name(path): path for path in sorted(PROXY.rglob("*.py"))}


def imports_of(module: str) -> set[str]:
    """The proxy modules `module` imports, anywhere in its file (`from proxy.x import y` names y if it is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("proxy.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module != "proxy" and not node.module.startswith("proxy."):
                continue
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return found - {module, "proxy"}


GRAPH = {module: imports_of(module) for module in MODULES}


def allowed_packages(package: str) -> set[str] | None:
    """What a package's docstring says it may import; None for "everything"."""
    docstring = ast.get_docstring(ast.parse((PROXY / package / "__init__.py").read_text())) or ""
    match = re.search(r"^May import: (.+)\.$", docstring, flags=re.M)
    assert match, f"proxy/{package}/__init__.py: the docstring needs a line 'May import: ...'"
    if match.group(1) == "everything":
        return None
    return {ROOT if name.startswith("proxy") else name for name in re.split(r",\s*(?![^()]*\))", match.group(1))}


PACKAGES = sorted(path.name for path in PROXY.iterdir() if (path / "__init__.py").is_file())


def test_the_graph_sees_the_imports_that_matter() -> None:
    # A check that found no imports would pass on any tree.
    assert "proxy.pipeline.cascade" in GRAPH["proxy.pipeline.steps"]
    assert "proxy.errors" in GRAPH["proxy.storage.sqlite_errors"]
    assert "proxy.cli.keys_cli" in GRAPH["proxy.cli.main"]  # `from proxy.cli import keys_cli`
    assert "proxy.localmodel.model" in GRAPH["proxy.cli.main"]  # inside a function


def test_no_module_is_left_out_of_a_package_but_the_floor() -> None:
    assert {m for m in MODULES if package_of(m) == ROOT} == {
        "proxy", "proxy.errors", "proxy.config", "proxy.config_schema", "proxy.chat", "proxy.fingerprint"}


def test_no_import_cycles() -> None:
    # A package's __init__ may re-export its own modules (proxy/cli does, for the console script).
    inits = {f"proxy.{package}" for package in PACKAGES}
    graph = {module: deps - inits for module, deps in GRAPH.items() if module not in inits}
    cycles = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        path.append(module)
        for dependency in sorted(graph[module]):
            if state.get(dependency) == "open":
                cycles.append(" -> ".join(path[path.index(dependency):] + [dependency]))
            elif dependency not in state:
                visit(dependency)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_what_its_docstring_allows(package: str) -> None:
    allowed = allowed_packages(package)
    if allowed is None:
        return
    assert allowed <= set(PACKAGES) | {ROOT}, f"proxy/{package}: 'May import' names no such package"
    upward = sorted(
        f"{module} imports {dependency}"
        for module, dependencies in GRAPH.items() if package_of(module) == package
        for dependency in dependencies
        if package_of(dependency) not in allowed | {package}
    )
    assert upward == []


def test_the_floor_imports_no_package() -> None:
    reaching_up = sorted(
        f"{module} imports {dependency}"
        for module, dependencies in GRAPH.items() if package_of(module) == ROOT
        for dependency in dependencies if package_of(dependency) != ROOT
    )
    assert reaching_up == []
