"""A flow graph as plain data, and back: the structure of a graph of fastnn's built-in boxes
as a JSON-ready description (box types and constructor arguments, no parameter values),
from which :func:`build` makes the graph again. Model files store a network this way, its
parameters beside it as arrays, so that reading one runs no code it does not know: a
description naming any other box type is refused.

>>> from fastnn import nn
>>> net = nn.Sequential(nn.Linear(4, 3, rng=0, backend="numpy"), nn.ReLU(backend="numpy"))
>>> describe(net)["boxes"][1]
{'box': 'ReLU', 'arguments': {'backend': 'numpy'}}
>>> type(build(describe(net))[0]).__name__
'Linear'
"""
from __future__ import annotations

from .activations import Identity, ReLU, Sigmoid, Softmax, Tanh, Threshold
from .combine import Add, Concat
from .conv import AvgPool2d, Conv2d, Flatten, MaxPool2d, Reshape
from .graph import Graph
from .linear import Linear
from .module import Module
from .sequential import Sequential

#: The boxes a description may name, by type name: every built-in box a network holds.
BOXES = {cls.__name__: cls for cls in (
    Linear, Identity, Threshold, Sigmoid, Tanh, ReLU, Softmax, Add, Concat, Conv2d, MaxPool2d,
    AvgPool2d, Flatten, Reshape)}
CONTAINERS = ("Sequential", "Graph")


def describe(module: Module) -> dict:
    """The structure of ``module`` as nested dicts and lists of JSON values:
    ``{"box": type name, "arguments": {...}}`` for a box, ``{"box": "Sequential", "boxes":
    [...]}`` and ``{"box": "Graph", "nodes": [[name, description, [inputs]], ...],
    "inputs": [...], "output": name}`` for the containers.

    Raises
    ------
    ValueError
        For a box that is not one of :data:`BOXES` (a subclass or a box of one's own: it
        could not be built again from data), or one built with a callable ``init``.
    """
    kind = type(module).__name__
    if type(module) is Sequential:
        return {"box": kind, "boxes": [describe(box) for box in module.boxes]}
    if type(module) is Graph:
        return {"box": kind, "inputs": list(module.inputs), "output": module.output,
                "nodes": [[name, describe(module.boxes[name]), list(module.parents[name])]
                          for name in module.order]}
    if BOXES.get(kind) is not type(module):
        raise ValueError(f"{module!r} is not one of fastnn's built-in boxes {sorted(BOXES)}: "
                         f"only those can be written as data")
    arguments = module.arguments()
    if callable(arguments.get("init")):
        raise ValueError(f"{module!r} was built with a callable init, which cannot be written "
                         f"as data: give the name of an initialiser")
    return {"box": kind, "arguments": arguments}


def build(description) -> Module:
    """The flow graph a :func:`describe` result describes, with freshly initialised
    parameters (drawn from seed 0: the same graph every time).

    Raises
    ------
    ValueError
        For anything that is not such a description: an unknown box type, missing or extra
        fields, arguments the box's constructor refuses.
    """
    if not isinstance(description, dict) or not isinstance(description.get("box"), str):
        raise ValueError(f"a box is described by a dict with a 'box' name, got "
                         f"{description!r:.80}")
    kind = description["box"]
    if kind == "Sequential":
        _fields(description, {"box", "boxes"})
        boxes = description["boxes"]
        if not isinstance(boxes, list):
            raise ValueError("a Sequential's 'boxes' must be a list")
        return Sequential(*[build(box) for box in boxes])
    if kind == "Graph":
        _fields(description, {"box", "nodes", "inputs", "output"})
        nodes = description["nodes"]
        if not isinstance(nodes, list) or not all(
                isinstance(node, list) and len(node) == 3 and isinstance(node[0], str)
                for node in nodes):
            raise ValueError("a Graph's 'nodes' must be a list of [name, box, inputs]")
        return Graph({name: (build(box), inputs) for name, box, inputs in nodes},
                     inputs=description["inputs"], output=description["output"])
    if kind not in BOXES:
        raise ValueError(f"unknown box type {kind!r}: a description names one of "
                         f"{sorted([*BOXES, *CONTAINERS])}")
    _fields(description, {"box", "arguments"})
    arguments = description["arguments"]
    if not isinstance(arguments, dict) or not all(isinstance(k, str) for k in arguments):
        raise ValueError(f"the arguments of a {kind} must be a dict, got {arguments!r:.80}")
    if "rng" in arguments:
        raise ValueError(f"the arguments of a {kind} hold no 'rng'")
    if kind in ("Linear", "Conv2d"):
        arguments = {**arguments, "rng": 0}
    try:
        return BOXES[kind](**arguments)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a {kind} cannot be built from {description['arguments']!r:.120}: "
                         f"{exc}") from None


def _fields(description, expected):
    if set(description) != expected:
        raise ValueError(f"a {description['box']} is described by the fields "
                         f"{sorted(expected)}, got {sorted(description)}")
