"""The layers below the stages: the rules and values (pipeline.domain) form no import cycle, counting
the imports made only for type checking and the ones inside functions (a cycle is what made
config, models, issues and plain one knot). import-linter checks the direction (pyproject.toml)."""

from __future__ import annotations

import grimp
import pytest
from conftest import REPO


def _cycles(graph: grimp.ImportGraph, prefix: str) -> list[list[str]]:
    """The strongly connected components of more than one module among the modules under ``prefix``."""
    modules = sorted(m for m in graph.modules if m.startswith(prefix))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.find_modules_directly_imported_by(v):
            if not w.startswith(prefix):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for m in modules:
        if m not in index:
            visit(m)
    return out


def test_the_domain_has_no_import_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    graph = grimp.build_graph("pipeline", cache_dir=None)
    assert "pipeline.domain.config" in graph.modules  # the graph is of this checkout
    assert _cycles(graph, "pipeline.domain.") == []
