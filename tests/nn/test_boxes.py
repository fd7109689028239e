"""Each box of the flow graph: gradcheck, forward values against the reference formulas,
agreement between backends, gradient accumulation, and errors."""
import pickle

import numpy as np
import pytest

from fastnn import nn
from fastnn import reference as R
from fastnn.gradient_check import gradcheck, gradcheck_errors
from fastnn.reference import losses as R_losses
from tests.cases import BACKENDS, COMPILED_BACKENDS, once_per_case
from tests.tolerances import GRADCHECK_RTOL, assert_equivalent

# one-input boxes with a recipe for building them on a backend, and the lecture's formula
ELEMENTWISE = {
    "Identity": (nn.Identity, lambda a: a),
    "Threshold": (nn.Threshold, np.sign),
    "Sigmoid": (nn.Sigmoid, R.sigmoid),
    "Tanh": (nn.Tanh, np.tanh),
    "ReLU": (nn.ReLU, lambda a: np.maximum(a, 0)),
    "Softmax": (nn.Softmax, R.softmax),
}


def batch(n=5, d=4, seed=0, dtype=np.float64):
    # entries kept away from 0, where Threshold and ReLU have their kink
    x = np.random.default_rng(seed).normal(size=(n, d))
    return (x + 0.1 * np.sign(x)).astype(dtype)


def make_box(name, backend):
    if name == "Linear":
        return nn.Linear(4, 3, rng=1, backend=backend)
    return ELEMENTWISE[name][0](backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["Linear", *ELEMENTWISE])
def test_every_box_passes_gradcheck(name, backend):
    box = make_box(name, backend)
    if name == "Linear":
        box.b.value[:] = [0.1, -0.2, 0.3]  # non-zero biases, so their role is checked too
    x = batch()
    n_out = box.fprop(x).shape[1]
    target = np.random.default_rng(3).normal(size=(5, n_out))
    errors = gradcheck_errors(box, nn.SquaredLoss(backend=backend), x, target)
    assert set(errors) == {"input"} | {n for n, _ in box.named_parameters()}
    assert max(errors.values()) <= GRADCHECK_RTOL, errors


@pytest.mark.parametrize("backend", BACKENDS)
def test_threshold_passes_no_gradient(backend):
    box = nn.Threshold(backend=backend)
    box.fprop(batch())
    np.testing.assert_array_equal(box.bprop(np.ones((5, 4))), 0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("box_type", [nn.Add, nn.Concat])
def test_boxes_with_several_inputs_pass_gradcheck(box_type, backend):
    x = (batch(seed=1), batch(seed=2), batch(seed=3))
    box = box_type(backend=backend)
    target = np.random.default_rng(4).normal(size=box.fprop(*x).shape)
    errors = gradcheck_errors(box, nn.SquaredLoss(backend=backend), x, target)
    assert set(errors) == {"input[0]", "input[1]", "input[2]"}
    assert max(errors.values()) <= GRADCHECK_RTOL


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss_type,targets", [
    (nn.SoftmaxNLL, np.array([0, 3, 1, 2, 3])),
    (nn.BinaryNLL, (np.arange(20).reshape(5, 4) % 3 == 0).astype(float)),
    (nn.SquaredLoss, np.linspace(-1, 1, 20).reshape(5, 4)),
    (nn.HalfSquaredLoss, np.linspace(-1, 1, 20).reshape(5, 4)),
    (nn.PoissonLoss, (np.arange(20).reshape(5, 4) % 4).astype(float)),  # counts, zeros among them
])
def test_every_loss_passes_gradcheck(loss_type, targets, backend):
    assert gradcheck(nn.Identity(backend=backend), loss_type(backend=backend), batch(),
                     targets) <= GRADCHECK_RTOL


@pytest.mark.parametrize("backend", BACKENDS)
def test_regularisers_pass_gradcheck(backend):
    box = nn.Linear(4, 3, rng=2, backend=backend)
    regs = [nn.L2(0.05), nn.L1(0.01)]
    errors = gradcheck_errors(box, nn.SoftmaxNLL(backend=backend), batch(),
                              np.array([0, 1, 2, 1, 0]), regularizers=regs)
    assert max(errors.values()) <= GRADCHECK_RTOL


def test_regulariser_values_and_gradients_follow_the_lecture():
    box = nn.Linear(4, 3, rng=2, backend="numpy")
    W = box.W.value
    assert nn.L2(0.5).fprop(box) == pytest.approx(0.5 * np.sum(W ** 2))
    assert nn.L1(0.5).fprop(box.parameters()) == pytest.approx(0.5 * np.sum(np.abs(W)))
    reg = nn.L2(0.5)
    reg.fprop(box)
    reg.bprop()
    np.testing.assert_allclose(box.W.grad, 0.5 * 2 * W)
    np.testing.assert_array_equal(box.b.grad, 0)  # biases are never regularised


def test_forward_values_are_the_lecture_formulas():
    x = batch()
    lin = nn.Linear(4, 3, rng=0, backend="numpy")
    lin.b.value[:] = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(lin.fprop(x), x @ lin.W.value + lin.b.value, rtol=1e-14)
    for name, (box_type, formula) in ELEMENTWISE.items():
        np.testing.assert_allclose(box_type(backend="numpy").fprop(x), formula(x), rtol=1e-14,
                                   err_msg=name)


def test_losses_are_means_of_the_reference_losses():
    a, y = batch(), np.array([0, 3, 1, 2, 3])
    Y01 = (np.arange(20).reshape(5, 4) % 2).astype(float)
    soft = nn.SoftmaxNLL(backend="numpy")
    assert soft.fprop(a, y) == pytest.approx(np.mean(R.softmax_nll(a, y)))
    np.testing.assert_allclose(soft.output, R.softmax(a))
    np.testing.assert_allclose(soft.bprop(), R.softmax_nll_grad(a, y) / 5)
    # labels or one-hot rows
    assert soft.fprop(a, R.one_hot(y, 4)) == pytest.approx(soft.fprop(a, y))
    assert (nn.BinaryNLL(backend="numpy").fprop(a, Y01)
            == pytest.approx(np.mean(R.logistic_nll(a, Y01))))
    assert (nn.SquaredLoss(backend="numpy").fprop(a, Y01)
            == pytest.approx(np.mean(R.squared_loss(a, Y01))))
    sq = nn.SquaredLoss(backend="numpy")
    sq.fprop(a[:, :1], Y01[:, 0])  # a single output takes 1-D targets
    np.testing.assert_allclose(sq.bprop(3.0), 3.0 * 2 * (a[:, :1] - Y01[:, :1]) / 5)
    half = nn.HalfSquaredLoss(backend="numpy")
    assert half.fprop(a, Y01) == pytest.approx(np.mean(R_losses.half_squared_loss(a, Y01)))
    np.testing.assert_allclose(half.bprop(), (a - Y01) / 5)
    counts = 3 * Y01
    poisson = nn.PoissonLoss(backend="numpy")
    assert poisson.fprop(a, counts) == pytest.approx(np.mean(R_losses.poisson_loss(a, counts)))
    np.testing.assert_allclose(poisson.output, np.exp(a))
    np.testing.assert_allclose(poisson.bprop(), (np.exp(a) - counts) / 5)


def box_on(name, dtype, backend):
    """The box's output, input gradient and parameter gradients on ``backend``."""
    x = batch(dtype=dtype)
    grad = np.random.default_rng(5).normal(size=(5, 4)).astype(dtype)
    if name == "Linear":
        box = nn.Linear(4, 4, rng=1, dtype=dtype, backend=backend)
    else:
        box = make_box(name, backend)
    out = box.fprop(x)
    return out, box.bprop(grad), [p.grad.copy() for p in box.parameters()]


@once_per_case
def box_on_numpy(name, dtype):
    return box_on(name, dtype, "numpy")


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["Linear", *ELEMENTWISE])
def test_backends_agree_with_numpy(name, dtype, backend):
    out0, g0, p0 = box_on_numpy(name, dtype)
    out1, g1, p1 = box_on(name, dtype, backend)
    assert out1.dtype == dtype and g1.dtype == dtype
    assert_equivalent(out1, out0)
    assert_equivalent(g1, g0)
    for a, b in zip(p1, p0, strict=True):
        assert_equivalent(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_stays_float32(backend):
    lin = nn.Linear(4, 3, rng=0, dtype="float32", backend=backend)
    out = lin.fprop(batch())  # float64 input is converted to the box's dtype
    assert out.dtype == np.float32
    assert lin.bprop(np.ones_like(out)).dtype == np.float32
    assert lin.W.grad.dtype == np.float32
    assert nn.Tanh(backend=backend).fprop(out).dtype == np.float32


def test_parameter_gradients_accumulate_until_zero_grad():
    lin = nn.Linear(4, 3, rng=0, backend="numpy")
    x, grad = batch(), np.ones((5, 3))
    lin.fprop(x)
    lin.bprop(grad)
    once = [p.grad.copy() for p in lin.parameters()]
    lin.bprop(grad)
    lin.fprop(batch(seed=9))   # a new fprop does not clear anything either
    for p, g in zip(lin.parameters(), once):
        np.testing.assert_allclose(p.grad, 2 * g)
    lin.zero_grad()
    for p in lin.parameters():
        np.testing.assert_array_equal(p.grad, 0)


def test_linear_uses_its_initialiser_and_zero_biases():
    lin = nn.Linear(30, 20, rng=3, backend="numpy")
    np.testing.assert_array_equal(lin.W.value, R.glorot_uniform(30, 20, np.random.default_rng(3)))
    np.testing.assert_array_equal(lin.b.value, 0)
    assert nn.Linear(30, 20, init="zeros", backend="numpy").W.value.any() == False  # noqa: E712
    assert lin.W.decay and not lin.b.decay


def test_bprop_before_fprop_is_an_error():
    for box in (nn.Linear(2, 2, backend="numpy"), nn.Tanh(backend="numpy"), nn.Add(backend="numpy"),
                nn.Softmax(backend="numpy"), nn.SoftmaxNLL(backend="numpy")):
        with pytest.raises(RuntimeError, match="called before fprop"):
            box.bprop(np.ones((1, 2)))
    with pytest.raises(RuntimeError, match="called before fprop"):
        nn.L2(0.1).bprop()


def test_bad_input_is_named():
    lin = nn.Linear(4, 3, backend="numpy")
    with pytest.raises(ValueError, match="expects inputs with 4 columns, got shape"):
        lin.fprop(np.ones((2, 5)))
    with pytest.raises(ValueError, match="must be 2-D"):
        lin.fprop(np.ones(4))
    lin.fprop(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"grad_output has shape \(2, 4\).*shape \(2, 3\)"):
        lin.bprop(np.ones((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        nn.Tanh(backend="numpy").fprop(np.array([[np.nan]]))
    with pytest.raises(ValueError, match="n_out must be a positive integer"):
        nn.Linear(4, 0)
    with pytest.raises(ValueError, match="unknown weight initialisation 'ones'"):
        nn.Linear(4, 3, init="ones")
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        nn.Linear(4, 3, dtype="int32")
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        nn.Tanh(backend="gpu")
    with pytest.raises(ValueError, match="same shape"):
        nn.Add(backend="numpy").fprop(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="different numbers of rows"):
        nn.Concat(backend="numpy").fprop(np.ones((2, 3)), np.ones((3, 3)))


def test_bad_targets_are_named():
    a = batch()
    with pytest.raises(ValueError, match=r"targets of shape \(5, 3\) do not match.*\(5, 4\)"):
        nn.SquaredLoss(backend="numpy").fprop(a, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="class indices in"):
        nn.SoftmaxNLL(backend="numpy").fprop(a, np.array([0, 1, 2, 3, 4]))
    with pytest.raises(ValueError, match="inconsistent numbers of rows"):
        nn.SoftmaxNLL(backend="numpy").fprop(a, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        nn.BinaryNLL(backend="numpy").fprop(a, 2 * np.ones((5, 4)))
    with pytest.raises(ValueError, match="PoissonLoss targets must be >= 0, got a minimum of -1"):
        nn.PoissonLoss(backend="numpy").fprop(a, -np.ones((5, 4)))
    loss = nn.SquaredLoss(backend="numpy")
    loss.fprop(a, a)
    with pytest.raises(ValueError, match="takes a scalar"):
        loss.bprop(np.ones((5, 4)))


def test_repr_is_readable():
    assert (repr(nn.Linear(4, 3, backend="numpy"))
            == "Linear(n_in=4, n_out=3, dtype=float64, backend='numpy')")
    assert repr(nn.Tanh(backend="numpy")) == "Tanh(backend='numpy')"
    assert repr(nn.L2(0.01)) == "L2(0.01)"
    assert "shape=(4, 3)" in repr(nn.Linear(4, 3, backend="numpy").W)


def test_a_box_survives_pickling():
    lin = nn.Linear(4, 3, rng=0, backend="numpy")
    copy = pickle.loads(pickle.dumps(lin))
    np.testing.assert_array_equal(copy.fprop(batch()), lin.fprop(batch()))
    assert copy.ops is lin.ops
