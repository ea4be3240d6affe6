"""The house rules, read from the code's own imports (issue #15).

Every ``import`` in ``salesnb/`` counts, those inside functions too:

- no import circle between modules;
- no module takes another module's private (``_name``) names;
- arrows point down: ``io`` imports nothing of ``analysis``, ``present``
  or ``run``; ``analysis`` nothing of ``present`` or ``run``; ``present``
  nothing of ``run``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "salesnb"
LAYERS = ("io", "analysis", "present", "run")  # lower first: a layer imports only those before it


def _module_name(path: Path) -> str:
    parts = ["salesnb", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import in ``path``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, [alias.name for alias in node.names], node.lineno))
    return found


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _edges() -> dict[str, set[str]]:
    """module -> the salesnb modules it imports (a name that is a module counts as that module)."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, names, _ in _imports(path):
            if not target.startswith("salesnb"):
                continue
            targets = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES] or [target]
            edges[module].update(t for t in targets if t in MODULES and t != module)
    return edges


def test_no_import_circle():
    edges = _edges()
    index, low, stack, on_stack, circles, counter = {}, {}, [], set(), [], [0]

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_no_private_name_taken_from_another_module():
    taken = []
    for module, path in MODULES.items():
        for target, names, line in _imports(path):
            if target.startswith("salesnb") and target != module:
                taken += [
                    f"{path.relative_to(PACKAGE.parent)}:{line} takes {target}.{n}"
                    for n in names
                    if n.startswith("_") and not n.startswith("__")
                ]
    assert not taken, "\n".join(taken)


def test_arrows_point_down():
    def layer(module: str) -> int | None:
        parts = module.split(".")
        return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None

    upward = []
    for module, targets in _edges().items():
        for target in targets:
            if layer(module) is not None and layer(target) is not None and layer(target) > layer(module):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that point up: " + ", ".join(sorted(upward))
