"""Alias bombs ("billion laughs"): what expanding a document's aliases would cost, counted, never built."""

from __future__ import annotations

from yaml.nodes import Node, ScalarNode, SequenceNode

from trace_operators.dag.yaml_data import LoadProblem, position

#: Expansion bounds against billion laughs: a size, past which aliases may grow what is written at most fivefold
#: (a big DAG of small jobs that each merge `<<: *defaults` loads in time and memory linear in its size), and a
#: ratio to what is written that only counts past a floor, so a small file reusing one anchor many times is not
#: mistaken for a bomb.
MAX_EXPANDED_NODES = 100_000
MAX_GROWTH = 5
MAX_EXPANSION_RATIO = 20
RATIO_FLOOR = 10_000


def expansion(root: Node) -> tuple[tuple[int, int], LoadProblem | None]:
    """How many nodes the document has with its aliases expanded and as written (counted, never built), and a
    `yaml.alias-bomb` when that passes the bounds."""
    try:
        expanded, written, worst = _sizes(root)
    except _Cycle as cycle:
        line, col = position(cycle.node)
        return (0, 0), LoadProblem(
            "yaml.alias-bomb",
            "an alias refers to a node that contains it: expansion would never end",
            line,
            col,
            "an alias (*name) may only repeat a node defined before it, not its own parent",
        )
    if not too_far(expanded, written):
        return (expanded, written), None
    line, col = position(worst or root)
    return (expanded, written), LoadProblem(
        "yaml.alias-bomb",
        f"aliases would expand the document to {expanded:,} nodes from {written:,} written "
        f"(limit {_limit(written):,} nodes, or {MAX_EXPANSION_RATIO}x what is written)",
        line,
        col,
        "repeat less through aliases (*name); a DAG never needs that many nodes",
    )


def too_far(expanded: int, written: int) -> bool:
    """Whether aliases that grow `written` nodes to `expanded` pass the bounds."""
    return expanded > _limit(written) or (expanded > MAX_EXPANSION_RATIO * written and expanded > RATIO_FLOOR)


def _limit(written: int) -> int:
    return max(MAX_EXPANDED_NODES, MAX_GROWTH * written)


def _sizes(root: Node) -> tuple[int, int, Node | None]:
    """Nodes with aliases expanded, nodes written, and the smallest construct past `MAX_EXPANDED_NODES` (where a
    blow-up is written); `_Cycle` for an alias inside its own anchor."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    worst: list[Node] = []

    def size(node: Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if node.__class__ is ScalarNode:  # most nodes: no children, no cycle through them
            sizes[id(node)] = 1
            return 1
        if id(node) in active:
            raise _Cycle(node)
        active.add(id(node))
        if node.__class__ is SequenceNode:
            total = 1 + sum(size(item) for item in node.value)
        else:
            total = 1 + sum(size(key) + size(value) for key, value in node.value)
        active.discard(id(node))
        if total > MAX_EXPANDED_NODES and not worst:
            worst.append(node)
        sizes[id(node)] = total
        return total

    expanded = size(root)
    return expanded, len(sizes), worst[0] if worst else None


class _Cycle(Exception):
    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node
