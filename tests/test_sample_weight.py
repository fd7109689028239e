"""Sample weights in the epochs of the contract: every compiled backend agrees with the
reference, weights of 1 are no weights, and integer weights are repeated rows where the
steps make them so (a step over the whole data set)."""
import numpy as np
import pytest

from fastnn import backend
from tests.cases import BACKENDS, COMPILED_BACKENDS, DTYPES
from tests.tolerances import assert_equivalent

EPOCHS = ["sgd_epoch", "minibatch_sgd_epoch", "adam_epoch", "minibatch_adam_epoch"]


def problem(dtype, n=23, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]
    weights = [(rng.normal(size=(5, 6)) * 0.5).astype(dtype),
               (rng.normal(size=(6, 3)) * 0.5).astype(dtype)]
    biases = [(rng.normal(size=6) * 0.1).astype(dtype), (rng.normal(size=3) * 0.1).astype(dtype)]
    sample_weight = rng.uniform(0, 2, n).astype(dtype)
    sample_weight[[3, 4, 5, 6]] = 0  # a whole zero-weight batch of 4, and a zero row
    order = rng.permutation(n)
    return X, Y, order, weights, biases, sample_weight


def run(ops, name, X, Y, order, weights, biases, batch_size=4, **weighting):
    """One epoch of ``name`` on copies; returns (objective, parameters, optimiser state)."""
    weights, biases = [W.copy() for W in weights], [b.copy() for b in biases]
    state = [np.zeros_like(a) for a in (*weights, *biases)]
    L = len(weights)
    extra = {"batch_size": batch_size} if name.startswith("minibatch") else {}
    if "adam" in name:
        second = [np.zeros_like(a) for a in state]
        value = getattr(ops, name)(X, Y, order, weights, biases, state[:L], state[L:],
                                   second[:L], second[L:], ["tanh"], "softmax_nll", 0.01,
                                   l2=0.01, l1=0.001, t=3, **extra, **weighting)
        state += second
    else:
        value = getattr(ops, name)(X, Y, order, weights, biases, state[:L], state[L:],
                                   ["tanh"], "softmax_nll", 0.1, l2=0.01, l1=0.001,
                                   momentum=0.5, nesterov=True, **extra, **weighting)
    return value, [*weights, *biases, *state]


@pytest.mark.parametrize("fast", COMPILED_BACKENDS)
@pytest.mark.parametrize("name", EPOCHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_backend_weighs_as_the_reference(fast, name, dtype):
    X, Y, order, weights, biases, sample_weight = problem(dtype)
    want_value, want = run(backend.get_backend("numpy"), name, X, Y, order, weights, biases,
                           sample_weight=sample_weight, alpha=0.3)
    got_value, got = run(backend.get_backend(fast), name, X, Y, order, weights, biases,
                         sample_weight=sample_weight, alpha=0.3)
    for a, b in zip(got, want):
        assert_equivalent(a, b, dtype)
    assert_equivalent(np.array([got_value]), np.array([want_value]), dtype)


@pytest.mark.parametrize("ops_name", BACKENDS)
@pytest.mark.parametrize("name", EPOCHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_weights_of_one_are_no_weights_bit_for_bit(ops_name, name, dtype):
    ops = backend.get_backend(ops_name)
    X, Y, order, weights, biases, _ = problem(dtype)
    unweighted_value, unweighted = run(ops, name, X, Y, order, weights, biases, alpha=0.3)
    value, weighted = run(ops, name, X, Y, order, weights, biases, alpha=0.3,
                          sample_weight=np.ones(len(X), dtype))
    for a, b in zip(weighted, unweighted):
        np.testing.assert_array_equal(a, b)
    assert value == pytest.approx(unweighted_value, rel=1e-6)


@pytest.mark.parametrize("ops_name", BACKENDS)
@pytest.mark.parametrize("name", ["minibatch_sgd_epoch", "minibatch_adam_epoch"])
def test_integer_weights_are_repeated_rows_in_a_whole_data_set_step(ops_name, name):
    ops = backend.get_backend(ops_name)
    X, Y, order, weights, biases, _ = problem(np.float64)
    counts = np.random.default_rng(1).integers(0, 4, len(X))
    repeated = np.repeat(np.arange(len(X)), counts)
    for _ in range(2):  # two whole-data-set steps
        value, got = run(ops, name, X, Y, np.arange(len(X)), weights, biases,
                         batch_size=len(X), sample_weight=counts.astype(float), alpha=0.3)
        want_value, want = run(ops, name, X[repeated], Y[repeated], np.arange(len(repeated)),
                               weights, biases, batch_size=len(repeated), alpha=0.3)
        for a, b in zip(got, want):
            assert_equivalent(a, b)
        # one step: the objective is the weighted mean loss plus the regulariser, both ways
        assert value == pytest.approx(want_value, rel=1e-12)
        weights, biases = got[:2], got[2:4]


@pytest.mark.parametrize("ops_name", BACKENDS)
def test_a_step_of_zero_weight_moves_only_by_the_lecture_regulariser(ops_name):
    ops = backend.get_backend(ops_name)
    X, Y, order, weights, biases, _ = problem(np.float64)
    zeros = np.zeros(len(X))
    value, got = run(ops, "sgd_epoch", X, Y, order[:1], weights, biases, sample_weight=zeros,
                     alpha=5.0)
    W = weights[0]
    # Nesterov momentum 0.5 from zero velocity: W <- W + 1.5 lr delta, with only the lecture's
    # regulariser in delta (no loss gradient, no alpha term)
    delta = -(0.02 * W + 0.001 * np.sign(W))
    np.testing.assert_allclose(got[0], W + 1.5 * 0.1 * delta, rtol=1e-14)
    np.testing.assert_array_equal(got[2], biases[0])
    penalty = 0.01 * sum((w ** 2).sum() for w in weights) + 0.001 * sum(
        np.abs(w).sum() for w in weights)
    assert value == pytest.approx(penalty, rel=1e-12)
