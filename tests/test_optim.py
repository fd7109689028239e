"""optim.SGD: the reference's update on every parameter, weight decay on weights only."""
import numpy as np
import pytest

from fastnn import nn, optim
from fastnn.reference import sgd_step
from fastnn.schedules import AdaptiveLR, InverseScalingLR, make_schedule


def linear_with_gradients(seed=0):
    lin = nn.Linear(3, 2, rng=seed, backend="numpy")
    rng = np.random.default_rng(seed + 1)
    lin.b.value[:] = rng.normal(size=2)
    lin.W.grad[...] = rng.normal(size=(3, 2))
    lin.b.grad[...] = rng.normal(size=2)
    return lin


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_steps_are_the_reference_update_with_decay_on_weights_only(momentum, nesterov):
    lin = linear_with_gradients()
    W, b = lin.W.value.copy(), lin.b.value.copy()
    vW, vb = np.zeros_like(W), np.zeros_like(b)
    opt = optim.SGD(lin.parameters(), lr=0.1, momentum=momentum, nesterov=nesterov, l2=0.01,
                    l1=0.001)
    for _ in range(3):  # the same gradient three times: the velocity builds up
        opt.step()
        sgd_step(W, lin.W.grad, vW, 0.1, 0.01, 0.001, momentum, nesterov)
        sgd_step(b, lin.b.grad, vb, 0.1, 0.0, 0.0, momentum, nesterov)
    np.testing.assert_array_equal(lin.W.value, W)
    np.testing.assert_array_equal(lin.b.value, b)
    np.testing.assert_array_equal(opt.velocities[0], vW)
    assert opt.n_steps == 3


def test_plain_step_is_theta_plus_alpha_delta():
    lin = linear_with_gradients()
    W, b = lin.W.value.copy(), lin.b.value.copy()
    optim.SGD(lin, lr=0.5, l2=0.1).step()
    np.testing.assert_allclose(lin.W.value, W - 0.5 * (lin.W.grad + 0.1 * 2 * W), rtol=1e-14)
    np.testing.assert_allclose(lin.b.value, b - 0.5 * lin.b.grad, rtol=1e-14)  # no decay on biases


def test_nesterov_differs_from_classical_momentum():
    a, b = linear_with_gradients(), linear_with_gradients()
    for lin, nesterov in ((a, False), (b, True)):
        opt = optim.SGD(lin, lr=0.1, momentum=0.9, nesterov=nesterov)
        opt.step()
        opt.step()
    assert not np.allclose(a.W.value, b.W.value)


def test_folded_decay_equals_the_regulariser_box():
    folded, explicit = linear_with_gradients(), linear_with_gradients()
    optim.SGD(folded, lr=0.2, l2=0.05, l1=0.01).step()
    for reg in (nn.L2(0.05), nn.L1(0.01)):
        reg.fprop(explicit)
        reg.bprop()
    optim.SGD(explicit, lr=0.2).step()
    np.testing.assert_allclose(folded.W.value, explicit.W.value, rtol=1e-13)
    np.testing.assert_allclose(folded.b.value, explicit.b.value, rtol=1e-13)


def test_learning_rate_follows_the_schedule():
    lin = linear_with_gradients()
    schedule = AdaptiveLR(0.1)
    opt = optim.SGD(lin, lr=schedule)
    assert opt.learning_rate == 0.1
    schedule.on_plateau()
    assert opt.learning_rate == pytest.approx(0.02)
    W = lin.W.value.copy()
    opt.step()
    np.testing.assert_allclose(lin.W.value, W - 0.02 * lin.W.grad, rtol=1e-14)
    inv = make_schedule("invscaling", 0.1, power_t=0.5)
    assert isinstance(inv, InverseScalingLR)
    opt = optim.SGD(lin, lr=inv)
    inv.epoch_end(99)
    assert opt.learning_rate == pytest.approx(0.01)


def test_zero_grad_and_parameters_counted_once():
    lin = linear_with_gradients()
    opt = optim.SGD(lin.parameters() + lin.parameters(), lr=0.1)
    assert len(opt.params) == 2 and len(opt.velocities) == 2
    opt.zero_grad()
    assert not lin.W.grad.any() and not lin.b.grad.any()
    assert repr(opt).startswith("SGD(2 parameters, lr=ConstantLR(learning_rate=0.1), momentum=0")


def test_float32_parameters_stay_float32():
    lin = nn.Linear(3, 2, rng=0, dtype=np.float32, backend="numpy")
    lin.W.grad[...] = 1
    optim.SGD(lin, lr=0.1, momentum=0.9, l2=0.01, l1=0.01).step()
    assert lin.W.value.dtype == np.float32 and lin.b.value.dtype == np.float32


@pytest.mark.parametrize("kwargs,error,message", [
    ({"lr": 0.0}, ValueError, "lr must be finite and > 0"),
    ({"lr": "fast"}, ValueError, "lr must be a number"),
    ({"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\)"),
    ({"momentum": -0.1}, ValueError, "momentum must be finite and >= 0"),
    ({"l2": -1.0}, ValueError, "l2 must be finite and >= 0"),
    ({"l1": float("nan")}, ValueError, "l1 must be finite"),
    ({"nesterov": "yes"}, ValueError, "nesterov must be True or False"),
])
def test_bad_settings_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        optim.SGD(nn.Linear(2, 2, backend="numpy"), **{"lr": 0.1, **kwargs})


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="no parameters"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="no parameters"):
        optim.SGD(nn.Tanh(backend="numpy"), lr=0.1)
    with pytest.raises(TypeError, match="trains fastnn.nn.Parameter objects, got ndarray"):
        optim.SGD([np.zeros(3)], lr=0.1)
