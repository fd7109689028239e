"""Graph: any acyclic flow graph, fprop in topological order, bprop in reverse order."""
import numpy as np
import pytest

from fastnn import nn
from fastnn.gradient_check import gradcheck, gradcheck_errors
from tests.cases import BACKENDS
from tests.tolerances import GRADCHECK_RTOL, assert_equivalent


def residual_branches(backend, seed=0):
    """x -> Linear -> Tanh -+-> Add (skip connection from x) -+
         x -> Sigmoid ------------------------------------------+-> Concat -> Linear -> out
         x -> Linear -> ReLU --------------------------------------+
    """
    rng = np.random.default_rng(seed)
    return nn.Graph({
        "h": (nn.Linear(4, 4, rng=rng, backend=backend), "x"),
        "t": (nn.Tanh(backend=backend), "h"),
        "skip": (nn.Add(backend=backend), ["t", "x"]),
        "s": (nn.Sigmoid(backend=backend), "x"),
        "g": (nn.Linear(4, 2, rng=rng, backend=backend), "x"),
        "r": (nn.ReLU(backend=backend), "g"),
        "both": (nn.Concat(backend=backend), ["skip", "s", "r"]),
        "out": (nn.Linear(10, 3, rng=rng, backend=backend), "both"),
    })


@pytest.mark.parametrize("backend", BACKENDS)
def test_graph_with_skip_connection_and_branches_passes_gradcheck(backend):
    net = residual_branches(backend)
    rng = np.random.default_rng(1)
    for p in net.parameters():
        p.value += rng.normal(scale=0.1, size=p.shape)
    errors = gradcheck_errors(net, nn.SoftmaxNLL(backend=backend), rng.normal(size=(6, 4)),
                              np.array([0, 1, 2, 2, 1, 0]), regularizers=[nn.L2(1e-2)])
    assert set(errors) == {"input", "h.W", "h.b", "g.W", "g.b", "out.W", "out.b"}
    assert max(errors.values()) <= GRADCHECK_RTOL, errors


@pytest.mark.parametrize("backend", BACKENDS)
def test_graph_with_two_inputs_passes_gradcheck(backend):
    net = nn.Graph({
        "a": (nn.Linear(3, 4, rng=0, backend=backend), "x"),
        "b": (nn.Linear(2, 4, rng=1, backend=backend), "z"),
        "sum": (nn.Add(backend=backend), ["a", "b", "a"]),   # 'a' read twice by the same box
        "t": (nn.Tanh(backend=backend), "sum"),
        "out": (nn.Linear(4, 1, rng=2, backend=backend), "t"),
    }, inputs=["x", "z"])
    rng = np.random.default_rng(3)
    x = {"x": rng.normal(size=(5, 3)), "z": rng.normal(size=(5, 2))}
    errors = gradcheck_errors(net, nn.BinaryNLL(backend=backend), x, np.array([0, 1, 1, 0, 1.0]))
    assert {"input['x']", "input['z']"} <= set(errors)
    assert max(errors.values()) <= GRADCHECK_RTOL, errors
    assert gradcheck(net, nn.SquaredLoss(backend=backend), (x["x"], x["z"]),
                     np.ones(5)) <= GRADCHECK_RTOL


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_graph_inside_a_sequential_passes_gradcheck(backend):
    block = nn.Graph({"h": (nn.Linear(3, 3, rng=0, backend=backend), "x"),
                      "t": (nn.Tanh(backend=backend), "h"),
                      "out": (nn.Add(backend=backend), ["t", "x"])})
    net = nn.Sequential(nn.Linear(2, 3, rng=1, backend=backend), block,
                        nn.Linear(3, 2, rng=2, backend=backend))
    assert [n for n, _ in net.named_parameters()] == ["0.W", "0.b", "1.h.W", "1.h.b", "2.W", "2.b"]
    x = np.random.default_rng(4).normal(size=(4, 2))
    assert gradcheck(net, nn.SoftmaxNLL(backend=backend), x,
                     np.array([0, 1, 1, 0])) <= GRADCHECK_RTOL


def test_fan_out_sums_the_gradients():
    net = nn.Graph({"twice": (nn.Add(backend="numpy"), ["x", "x"]),
                    "t": (nn.Identity(backend="numpy"), "twice")})
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(net.fprop(x), 2 * x)
    np.testing.assert_array_equal(net.bprop(np.ones((2, 3))), 2 * np.ones((2, 3)))


def test_a_chain_graph_equals_the_sequential():
    rng = np.random.default_rng(0)
    boxes = [nn.Linear(4, 5, rng=1, backend="numpy"), nn.Tanh(backend="numpy"),
             nn.Linear(5, 3, rng=2, backend="numpy")]
    twins = [nn.Linear(4, 5, rng=1, backend="numpy"), nn.Tanh(backend="numpy"),
             nn.Linear(5, 3, rng=2, backend="numpy")]
    seq = nn.Sequential(*boxes)
    # listed out of order on purpose: the graph finds the topological order itself
    graph = nn.Graph({"out": (twins[2], "t"), "t": (twins[1], "h"), "h": (twins[0], "x")},
                     output="out")
    assert graph.order == ["h", "t", "out"]
    x, grad = rng.normal(size=(3, 4)), rng.normal(size=(3, 3))
    assert_equivalent(graph.fprop(x), seq.fprop(x))
    assert_equivalent(graph.bprop(grad), seq.bprop(grad))
    for p, q in zip(graph.parameters(), seq.parameters()):
        assert_equivalent(p.grad, q.grad)
    np.testing.assert_array_equal(graph.value("x"), x)
    assert graph.value("t").shape == (3, 5)


def test_inputs_by_name_or_position_agree():
    net = nn.Graph({"c": (nn.Concat(backend="numpy"), ["x", "z"])}, inputs=["x", "z"])
    x, z = np.ones((2, 1)), np.zeros((2, 2))
    np.testing.assert_array_equal(net.fprop(z=z, x=x), net.fprop(x, z))
    gx, gz = net.bprop(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(gx, [[0], [3]])
    np.testing.assert_array_equal(gz, [[1, 2], [4, 5]])


def lin(n_in=4, n_out=4):
    return nn.Linear(n_in, n_out, backend="numpy")


def tanh():
    return nn.Tanh(backend="numpy")


@pytest.mark.parametrize("nodes,kwargs,message", [
    ({"a": (tanh(), "b"), "b": (tanh(), "a"), "out": (lin(), "a")}, {},
     r"cycle among the nodes \['a', 'b', 'out'\]"),
    ({"a": (tanh(), "y")}, {}, r"node 'a' reads unknown input name 'y'; known names: \['a', 'x'\]"),
    ({"a": (tanh(), "x"), "dead": (tanh(), "x"), "out": (lin(), "a")}, {"output": "out"},
     r"nodes \['dead'\] do not lead to the output 'out'"),
    ({"a": (tanh(), "x")}, {"inputs": ["x", "z"]}, r"inputs \['z'\] do not lead"),
    ({"a": (tanh(), ["x", "x"])}, {}, r"node 'a': Tanh.* takes 1 input\(s\), got 2"),
    ({"a": (lin(4, 8), "x"), "b": (lin(5, 2), "a")}, {},
     r"node 'b' reading \['a'\]:.*expects 5 inputs but receives 8"),
    ({"a": (lin(4, 3), "x"), "b": (lin(4, 2), "x"), "c": (nn.Add(backend="numpy"), ["a", "b"])}, {},
     r"node 'c' reading \['a', 'b'\]: Add needs inputs of the same width, got widths \[3, 2\]"),
    ({"x": (tanh(), "x")}, {}, "distinct from the inputs"),
    ({"a": tanh()}, {}, r"must be given as \(box, inputs\)"),
    ({"a": (tanh(), "x")}, {"output": "b"}, "output 'b' is not a node"),
    ({}, {}, "non-empty mapping"),
])
def test_bad_graphs_are_named(nodes, kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Graph(nodes, **kwargs)


def test_more_bad_graphs_and_calls_are_named():
    box = tanh()
    with pytest.raises(ValueError, match="hold the same box"):
        nn.Graph({"a": (box, "x"), "b": (box, "a")})
    with pytest.raises(TypeError, match="is the loss"):
        nn.Graph({"a": (nn.SquaredLoss(backend="numpy"), "x")})
    net = nn.Graph({"c": (nn.Concat(backend="numpy"), ["x", "z"])}, inputs=["x", "z"])
    with pytest.raises(RuntimeError, match="before fprop"):
        net.bprop(np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"unknown input name\(s\) \['y'\]"):
        net.fprop(x=np.ones((1, 1)), y=np.ones((1, 1)))
    with pytest.raises(ValueError, match=r"missing input\(s\) \['z'\]"):
        net.fprop(x=np.ones((1, 1)))
    with pytest.raises(ValueError, match=r"takes 2 input\(s\) \['x', 'z'\], got 1"):
        net.fprop(np.ones((1, 1)))
    with pytest.raises(ValueError, match="all by position or all by name"):
        net.fprop(np.ones((1, 1)), z=np.ones((1, 1)))
    net.fprop(np.ones((1, 1)), np.ones((1, 1)))
    with pytest.raises(ValueError, match="unknown name 'q'"):
        net.value("q")


def test_repr_lists_the_nodes_in_order():
    text = repr(residual_branches("numpy"))
    assert text.startswith("Graph(inputs=['x'], output='out',\n  h = Linear(n_in=4, n_out=4")
    assert "\n  skip = Add(backend='numpy')(t, x)" in text
    assert "\n  both = Concat(backend='numpy')(skip, s, r)" in text
