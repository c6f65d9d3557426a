"""The GUI's modules import downwards only: no import loop in ``studio.ui`` (issue 15), counting
every import a module makes (at the top, inside functions, under TYPE_CHECKING), and no
listener that tells its jobs apart by duck typing a result."""

from __future__ import annotations

import ast
import re
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "studio" / "ui"


def ui_imports(path: Path) -> set[str]:
    """The ``studio.ui`` modules ``path`` imports, wherever in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "studio.ui":
                found.update(f"studio.ui.{a.name}" for a in node.names)
            elif node.module.startswith("studio.ui."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("studio.ui."))
    return found


def import_graph() -> dict[str, set[str]]:
    return {f"studio.ui.{p.stem}": ui_imports(p) for p in sorted(UI.glob("*.py"))}


def find_loop(graph: dict[str, set[str]]) -> list[str] | None:
    """A list of modules that import each other in a circle, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (loop := visit(target)):
                return loop
        path.pop()
        state[module] = 2
        return None

    for module in graph:
        if module not in state and (loop := visit(module)):
            return loop
    return None


def test_the_loop_finder_finds_a_loop():
    assert find_loop({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_loop({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_loop_in_studio_ui():
    graph = import_graph()
    assert "studio.ui.project_model" in graph and graph["studio.ui.edits"] <= {
        "studio.ui.project_model"}  # undo commands know the model, not the panels
    assert find_loop(graph) is None, " -> ".join(find_loop(graph))


def test_no_listener_duck_types_a_jobs_result():
    pattern = re.compile(r"hasattr\(result|getattr\(result")
    offenders = [f"{p.name}:{n}" for p in sorted(UI.glob("*.py"))
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line)]
    assert offenders == []


def test_palettes_are_made_in_one_module():
    """One palette module (issue 15, item 5): only studio.ui.theme makes QPalettes (the player
    had a second ``dark_palette`` of its own)."""
    makers = [f"{p.name}:{n}" for p in sorted(UI.glob("*.py")) if p.name != "theme.py"
              for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
              if re.search(r"def \w*palette\w*\(", line)]
    assert makers == []
