"""The package's layers point one way, and no module imports itself back through others.

cli -> export -> figures | engine -> blocks | notation | reference | tokenizer -> errors.
Each import statement of every module (those inside functions too) is read with ``ast``; an
import of a subpackage on the same or a higher layer, or any import circle, fails with the
modules named.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symformer"

#: A layer may import from the layers below it and from its own subpackage, nothing else.
LAYERS = {
    "errors": 0, "_version": 0, "_files": 0,
    "blocks": 1, "notation": 1, "reference": 1, "tokenizer": 1,
    "engine": 2, "figures": 2,
    "export": 3,
    "cli": 4,
}
#: The public face re-exports from every layer; nothing inside the package may import it.
TOP = {"__init__", "__main__"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(["symformer", *(parts[:-1] if is_package else parts)])
        yield name, path, is_package


def _imports(name: str, path: Path, is_package: bool):
    """The symformer modules ``path`` imports (``from x import y`` counts x, and x.y when y is a module)."""
    known = {module for module, _, _ in _modules()}
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "symformer"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "symformer":
                continue
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in known}
    return {m for m in found if m in known and m != name}


GRAPH = {name: _imports(name, path, is_package) for name, path, is_package in _modules()}


def _layer_of(module: str):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_subpackage_has_a_layer():
    unknown = {_layer_of(m) for m in GRAPH} - set(LAYERS) - TOP
    assert not unknown, f"give these a layer in LAYERS: {sorted(unknown)}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _layer_of(m) not in TOP))
def test_no_module_imports_from_its_own_layer_or_above(module):
    layer = _layer_of(module)
    wrong = sorted(
        target for target in GRAPH[module]
        if _layer_of(target) in TOP
        or (_layer_of(target) != layer and LAYERS[_layer_of(target)] >= LAYERS[layer])
    )
    assert not wrong, f"{module} (layer {layer}) imports {wrong}, which are not below it"


def test_there_is_no_import_circle():
    # depth-first search that reports the first circle it closes
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                circle = stack[stack.index(target):] + [target]
                pytest.fail("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_the_checker_sees_a_violation_when_there_is_one(tmp_path):
    # the test above must be able to fail: a reference module importing the engine is caught
    fake = tmp_path / "bad.py"
    fake.write_text("from symformer.engine.verify import verify\n")
    targets = _imports("symformer.reference.bad", fake, False)
    assert targets == {"symformer.engine.verify"}
    assert LAYERS[_layer_of("symformer.engine.verify")] >= LAYERS["reference"]


def test_at_most_eight_modules_lie_flat_in_the_package():
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(flat) <= 8, flat


def test_each_subpackage_says_what_lives_there():
    for folder in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        docstring = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert docstring and len(docstring) > 40, f"{folder.name}/__init__.py needs a docstring saying what lives there"
