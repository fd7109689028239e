import numpy as np
import pytest

from fastnn import reference as R


def separable(n=200, d=5, margin=0.1, seed=0):
    """Points labelled by a known separator (w*, b*), those within ``margin`` of it dropped."""
    rng = np.random.default_rng(seed)
    w_star, b_star = rng.normal(size=d), 0.3
    X = rng.normal(size=(4 * n, d))
    s = (X @ w_star + b_star) / np.linalg.norm(np.append(w_star, b_star))
    keep = np.abs(s) > margin
    X, s = X[keep][:n], s[keep][:n]
    return X, np.where(s > 0, 1.0, -1.0), w_star, b_star


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_converges_within_the_novikoff_bound(seed):
    X, y, w_star, b_star = separable(seed=seed)
    result = R.perceptron_algorithm(X, y, max_epochs=10_000)
    assert result.converged
    assert np.all(y * (X @ result.w + result.b) > 0)
    # the bound of the lecture's proof, on the augmented points (X_i, 1)
    Xa = np.hstack([X, np.ones((len(X), 1))])
    u = np.append(w_star, b_star)
    u = u / np.linalg.norm(u)
    R_ = np.max(np.linalg.norm(Xa, axis=1))
    rho = np.min(y * (Xa @ u))
    assert result.n_updates <= (R_ / rho) ** 2
    assert result.n_updates > 0


def test_xor_does_not_converge():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([-1.0, 1.0, 1.0, -1.0])
    result = R.perceptron_algorithm(X, y, max_epochs=50)
    assert not result.converged
    assert result.n_epochs == 50
    assert np.any(y * (X @ result.w + result.b) <= 0)


def test_epoch_updates_only_on_mistakes():
    X = np.array([[1.0, 0.0], [2.0, 0.0]])
    y = np.array([1.0, 1.0])
    w, b = np.zeros(2), np.zeros(1)
    assert R.perceptron_epoch(X, y, w, b) == 1  # w = 0 errs on the first point only
    np.testing.assert_array_equal(w, [1.0, 0.0])
    assert b[0] == 1.0
    assert R.perceptron_epoch(X, y, w, b) == 0


def test_bad_labels_are_named():
    with pytest.raises(ValueError, match="labels -1 and \\+1"):
        R.perceptron_algorithm(np.zeros((2, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match="inconsistent numbers of rows"):
        R.perceptron_algorithm(np.zeros((3, 2)), np.array([1, -1]))
