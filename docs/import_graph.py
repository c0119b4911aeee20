"""Draws the import graph of mist_reg's subpackages: ``python docs/import_graph.py`` writes
``docs/images/architecture.png``.

A "room" is a subpackage of ``mist_reg`` (``estimation``) or a top-level module
(``checks``); an arrow ``a -> b`` means some module of ``a`` imports from ``b``. Rooms are
drawn on floors: a room sits one floor above the highest room it imports, so every arrow
points down. ``tests/test_architecture.py`` checks the graph has no cycle and that the
floors follow the layering written in :data:`LAYERS`.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mist_reg"
OUTPUT = Path(__file__).resolve().parent / "images" / "architecture.png"

LAYERS: tuple[str, ...] = (
    "checks",
    "labels",
    "functional",
    "nn",
    "distributions",
    "estimators",
    "estimation",
    "regularization",
    "tasks",
    "cli",
)
"""The layering, bottom up: a room may import only rooms listed before it. ``utils`` and
``critic`` (the torch_mist 0.1.5 import paths) and the package's ``__init__`` re-export
names from above and sit on top, outside the layering."""

FACADES: tuple[str, ...] = ("utils", "critic", "__init__", "__main__")


def room_of(module: str) -> str | None:
    """The room of a dotted module name inside mist_reg (``None`` outside it).

    Example:
        >>> room_of("mist_reg.estimation.fitting"), room_of("mist_reg"), room_of("torch.nn")
        ('estimation', '__init__', None)
    """
    parts = module.split(".")
    if parts[0] != "mist_reg":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.add(node.module)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Room to the rooms it imports from (itself excluded), read from the source with ast.

    Example:
        >>> graph = import_graph()
        >>> sorted(graph["functional"])
        ['checks']
    """
    graph: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        room = room_of(_module_name(path))
        targets = {room_of(module) for module in _imported_modules(path)}
        graph.setdefault(room, set()).update(t for t in targets if t is not None and t != room)
    return graph


def floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """The floor of every room: 0 for a room that imports no other, else one above the
    highest room it imports.

    Raises:
        ValueError: When the graph has a cycle (no floors exist).

    Example:
        >>> floors({"a": set(), "b": {"a"}, "c": {"a", "b"}})
        {'a': 0, 'b': 1, 'c': 2}
        >>> floors({"a": {"b"}, "b": {"a"}})
        Traceback (most recent call last):
        ...
        ValueError: the import graph has a cycle through a, b
    """
    floor: dict[str, int] = {}
    remaining = dict(graph)
    while remaining:
        ready = [room for room, targets in remaining.items() if all(t in floor for t in targets)]
        if not ready:
            raise ValueError(f"the import graph has a cycle through {', '.join(sorted(remaining))}")
        for room in ready:
            floor[room] = 1 + max((floor[t] for t in remaining[room]), default=-1)
            del remaining[room]
    return dict(sorted(floor.items(), key=lambda item: (item[1], item[0])))


def draw(graph: dict[str, set[str]], output: Path = OUTPUT) -> None:
    """Draws the rooms on their floors with an arrow per import and saves a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = floors(graph)
    by_floor: dict[int, list[str]] = {}
    for room, level in floor.items():
        by_floor.setdefault(level, []).append(room)
    position = {}
    for level, rooms in by_floor.items():
        for i, room in enumerate(rooms):
            position[room] = (i - (len(rooms) - 1) / 2, level)
    figure, axes = plt.subplots(figsize=(9, 1.0 + 0.9 * len(by_floor)))
    for room, targets in graph.items():
        for target in targets:
            axes.annotate(
                "",
                xy=position[target],
                xytext=position[room],
                arrowprops={"arrowstyle": "->", "color": "0.6", "shrinkA": 14, "shrinkB": 14},
            )
    for room, (x, y) in position.items():
        facade = room in FACADES
        axes.text(
            x,
            y,
            room,
            ha="center",
            va="center",
            fontsize=10,
            bbox={"boxstyle": "round", "facecolor": "0.92" if facade else "#cfe3f7", "edgecolor": "0.4"},
        )
    width = max(len(rooms) for rooms in by_floor.values())
    axes.set_xlim(-width / 2 - 0.2, width / 2 + 0.2)
    axes.set_ylim(-0.6, len(by_floor) - 0.4)
    axes.set_yticks(range(len(by_floor)), [f"floor {level}" for level in range(len(by_floor))])
    axes.set_xticks([])
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    axes.set_title("mist_reg: which subpackage imports which (arrows point down)")
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110, bbox_inches="tight")
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the PNG")
    args = parser.parse_args()
    graph = import_graph()
    for room, level in floors(graph).items():
        print(f"floor {level}: {room:15s} imports {', '.join(sorted(graph[room])) or '-'}")
    draw(graph, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
