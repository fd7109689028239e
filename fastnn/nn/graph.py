"""Any directed acyclic flow graph of boxes.

"Forward propagation can be represented as an acyclic flow graph ... calling the fprop method
of each box in the right order yields forward propagation"; "by calling bprop in the reverse
order, we get backpropagation". The right order is a topological order of the graph: every
box after the boxes it reads. When a value feeds several boxes, the gradients coming back
from all of them are summed before its own box's bprop runs.
"""
from __future__ import annotations

from collections.abc import Mapping

from .module import Module, check_box, indent


def _names(value, what: str) -> tuple[str, ...]:
    """``value`` (a name or a sequence of names) as a non-empty tuple of names."""
    try:
        names = (value,) if isinstance(value, str) else tuple(value)
    except TypeError:
        names = ()
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{what} must be a name or a non-empty sequence of names, got {value!r}")
    return names


def _read_nodes(nodes: Mapping, inputs: tuple[str, ...]):
    """``({name: box}, {name: parent names})`` from ``{name: (box, inputs)}``, every name
    checked: distinct from the inputs, a box used once with as many inputs as it takes, and
    every name it reads known."""
    boxes: dict[str, Module] = {}
    parents: dict[str, tuple[str, ...]] = {}
    seen: dict[int, str] = {}
    for name, spec in nodes.items():
        if not isinstance(name, str) or name in inputs:
            raise ValueError(f"node name {name!r} must be a string distinct from the inputs")
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise ValueError(f"node {name!r} must be given as (box, inputs), got {spec!r}")
        box = check_box(spec[0], f"node {name!r}")
        if id(box) in seen:
            raise ValueError(f"nodes {seen[id(box)]!r} and {name!r} hold the same box {box!r}; "
                             f"a box remembers one fprop, create a second box instead")
        seen[id(box)] = name
        reads = _names(spec[1], f"the inputs of node {name!r}")
        if box.n_inputs is not None and len(reads) != box.n_inputs:
            raise ValueError(f"node {name!r}: {box!r} takes {box.n_inputs} input(s), "
                             f"got {len(reads)}: {list(reads)}")
        boxes[name], parents[name] = box, reads
    known = set(inputs) | set(boxes)
    for name, reads in parents.items():
        for p in reads:
            if p not in known:
                raise ValueError(f"node {name!r} reads unknown input name {p!r}; "
                                 f"known names: {sorted(known)}")
    return boxes, parents


def topological_order(parents: Mapping[str, tuple[str, ...]], sources) -> list[str]:
    """The nodes of ``parents`` (node -> the names it reads) ordered so that every node comes
    after all of its parents (Kahn's algorithm, ties kept in the mapping's order). ``sources``
    are names known beforehand (the graph's inputs). ValueError names the nodes left waiting:
    those on a cycle and those fed by one."""
    done = set(sources)
    order: list[str] = []
    waiting = list(parents)
    while waiting:
        ready = [n for n in waiting if all(p in done for p in parents[n])]
        if not ready:
            raise ValueError(f"the graph has a cycle among the nodes {sorted(waiting)}: a flow "
                             f"graph must be acyclic")
        order += ready
        done.update(ready)
        waiting = [n for n in waiting if n not in done]
    return order


class Graph(Module):
    """A directed acyclic graph of boxes, itself a box: fprop runs the boxes in topological
    order, bprop runs their bprop in the reverse order.

    Parameters
    ----------
    nodes : mapping
        ``{name: (box, inputs)}`` where ``inputs`` is the name (or a list of names) of the
        values the box reads: graph inputs or other nodes, in the order ``box.fprop`` takes
        them. Nodes may be listed in any order. A box may appear in one node only.
    inputs : str or sequence of str
        Names of the graph's inputs, in the order ``fprop`` takes them (default ``"x"``).
    output : str, optional
        The node whose value ``fprop`` returns (default: the last node listed).

    Raises
    ------
    ValueError
        For an unknown name, a cycle, a node or an input that does not lead to the output, a
        box given the wrong number of inputs, or widths that do not fit (e.g. a ``Linear(5, 3)``
        reading a ``Linear(4, 8)``).

    Examples
    --------
    A residual block and two branches joined again:

    >>> from fastnn import nn
    >>> net = nn.Graph({
    ...     "h": (nn.Linear(4, 4, rng=0, backend="numpy"), "x"),
    ...     "t": (nn.Tanh(backend="numpy"), "h"),
    ...     "skip": (nn.Add(backend="numpy"), ["t", "x"]),
    ...     "r": (nn.ReLU(backend="numpy"), "x"),
    ...     "both": (nn.Concat(backend="numpy"), ["skip", "r"]),
    ...     "out": (nn.Linear(8, 3, rng=1, backend="numpy"), "both"),
    ... })
    >>> net.order
    ['h', 'r', 't', 'skip', 'both', 'out']
    """

    def __init__(self, nodes: Mapping, inputs="x", output: str | None = None):
        if not isinstance(nodes, Mapping) or not nodes:
            raise ValueError("nodes must be a non-empty mapping {name: (box, inputs)}")
        self.inputs = _names(inputs, "inputs")
        if len(set(self.inputs)) != len(self.inputs):
            raise ValueError(f"input names must be distinct, got {list(self.inputs)}")
        self.n_inputs = len(self.inputs)
        self.boxes, self.parents = _read_nodes(nodes, self.inputs)
        self.output = list(self.boxes)[-1] if output is None else output
        if self.output not in self.boxes:
            raise ValueError(f"output {self.output!r} is not a node; nodes: {list(self.boxes)}")
        self.order = topological_order(self.parents, self.inputs)
        self._check_everything_reaches_output()
        backends = {box.backend for box in self.boxes.values()}
        super().__init__(backends.pop() if len(backends) == 1 else "auto")
        self.infer_width(*[None] * len(self.inputs))

    def _check_everything_reaches_output(self):
        needed, stack = set(), [self.output]
        while stack:
            name = stack.pop()
            if name not in needed:
                needed.add(name)
                stack += self.parents.get(name, ())
        dead = [n for n in self.order if n not in needed]
        if dead:
            raise ValueError(f"nodes {dead} do not lead to the output {self.output!r}")
        unused = [n for n in self.inputs if n not in needed]
        if unused:
            raise ValueError(f"inputs {unused} do not lead to the output {self.output!r}")

    def infer_width(self, *widths):
        if len(widths) != len(self.inputs):
            raise ValueError(f"the graph has {len(self.inputs)} inputs, got {len(widths)} widths")
        known = dict(zip(self.inputs, widths))
        for name in self.order:
            try:
                known[name] = self.boxes[name].infer_width(*[known[p] for p in self.parents[name]])
            except ValueError as exc:
                raise ValueError(f"node {name!r} reading {list(self.parents[name])}: "
                                 f"{exc}") from None
        return known[self.output]

    def named_children(self):
        return [(name, self.boxes[name]) for name in self.order]

    def fprop(self, *arrays, **named):
        """Forward propagation in topological order. The inputs are given in the order of
        ``inputs``, or by name (``net.fprop(x=..., z=...)``); returns the output node's value.
        Every node's value stays available through :meth:`value` until the next fprop."""
        if arrays and named:
            raise ValueError("give the graph's inputs either all by position or all by name")
        if named:
            unknown = sorted(set(named) - set(self.inputs))
            if unknown:
                raise ValueError(f"unknown input name(s) {unknown}; the graph's inputs are "
                                 f"{list(self.inputs)}")
            missing = [n for n in self.inputs if n not in named]
            if missing:
                raise ValueError(f"missing input(s) {missing}")
            arrays = tuple(named[n] for n in self.inputs)
        if len(arrays) != len(self.inputs):
            raise ValueError(f"the graph takes {len(self.inputs)} input(s) {list(self.inputs)}, "
                             f"got {len(arrays)}")
        values = dict(zip(self.inputs, arrays))
        for name in self.order:
            values[name] = self.boxes[name].fprop(*[values[p] for p in self.parents[name]])
        self._forward = values
        return values[self.output]

    def value(self, name: str):
        """The value of node (or input) ``name`` computed by the last fprop."""
        values = self._forward
        if values is None:
            raise RuntimeError("no value yet: run fprop first")
        if name not in values:
            raise ValueError(f"unknown name {name!r}; known: {list(values)}")
        return values[name]

    def bprop(self, grad_output):
        """Backpropagation in reverse topological order. A value read by several boxes gets the
        sum of their gradients. Returns the gradient with respect to the input (a tuple, in the
        order of ``inputs``, when the graph has several)."""
        self._saved()
        grads = {self.output: grad_output}
        for name in reversed(self.order):
            grad = grads.pop(name)  # every node leads to the output: all its readers are done
            box, parents = self.boxes[name], self.parents[name]
            grad_in = box.bprop(grad)
            if box.n_inputs == 1:
                grad_in = (grad_in,)
            for p, g in zip(parents, grad_in):
                # not in place: a gradient array may be shared with the box that produced it
                grads[p] = grads[p] + g if p in grads else g
        if len(self.inputs) == 1:
            return grads[self.inputs[0]]
        return tuple(grads[n] for n in self.inputs)

    def __repr__(self):
        lines = "".join(f"\n  {name} = {indent(repr(self.boxes[name]))}"
                        f"({', '.join(self.parents[name])})"
                        for name in self.order)
        return f"Graph(inputs={list(self.inputs)}, output={self.output!r},{lines}\n)"
