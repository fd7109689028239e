"""fastnn.datasets: shapes, seeding, labels and the generating laws."""
import numpy as np
import pytest

from fastnn import datasets

TWO_D = {
    "xor": datasets.xor,
    "circles": datasets.circles,
    "spirals": datasets.spirals,
    "quad_boundary": datasets.quad_boundary,
}


@pytest.mark.parametrize("name", sorted(TWO_D))
@pytest.mark.parametrize("n", [4, 101])
def test_shapes_and_labels(name, n):
    X, y = TWO_D[name](n, random_state=0)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype.kind == "i"
    assert set(np.unique(y)) <= {0, 1}
    assert np.isfinite(X).all()


@pytest.mark.parametrize("name", sorted(TWO_D))
def test_seeding(name):
    make = TWO_D[name]
    X1, y1 = make(50, random_state=3)
    X2, y2 = make(50, random_state=3)
    X3, _ = make(50, random_state=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    # a Generator is accepted and advanced
    rng = np.random.default_rng(3)
    Xa, _ = make(50, random_state=rng)
    Xb, _ = make(50, random_state=rng)
    np.testing.assert_array_equal(Xa, X1)
    assert not np.array_equal(Xa, Xb)


@pytest.mark.parametrize("name", ["xor", "circles", "spirals"])
def test_balanced_classes(name):
    _, y = TWO_D[name](101, random_state=0)
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1


def test_quad_boundary_features_follow_the_gaussian():
    X, _ = datasets.quad_boundary(20000, random_state=1)
    n = X.shape[0]
    # mean within 4 standard errors per coordinate
    se = np.sqrt(np.diag(datasets.QUAD_BOUNDARY_COV) / n)
    assert np.all(np.abs(X.mean(0) - datasets.QUAD_BOUNDARY_MEAN) < 4 * se)
    np.testing.assert_allclose(np.cov(X.T), datasets.QUAD_BOUNDARY_COV, atol=0.06)


def test_quad_boundary_labels_follow_the_logistic_law():
    X, y, p = datasets.quad_boundary(20000, random_state=2, return_proba=True)
    z = -1 - 2 * X[:, 0] - 0.2 * X[:, 0] ** 2 + 2 * X[:, 1] ** 2
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-z)), rtol=1e-12)
    # empirical class-1 rate against the mean of the returned probability: Var(y - p) = E[p(1-p)]
    se = np.sqrt(np.mean(p * (1 - p)) / len(y))
    assert abs(y.mean() - p.mean()) < 4 * se
    # and within bins of p, the class-1 rate tracks p (calibration)
    bins = np.digitize(p, [0.2, 0.4, 0.6, 0.8])
    for k in range(5):
        pk, yk = p[bins == k], y[bins == k]
        se_k = np.sqrt(np.mean(pk * (1 - pk)) / len(yk))
        assert abs(yk.mean() - pk.mean()) < 4 * se_k + 1e-12


def test_quad_boundary_bayes_classifier_beats_constant_rules():
    X, y, p = datasets.quad_boundary(20000, random_state=5, return_proba=True)
    bayes_risk = np.mean(np.minimum(p, 1 - p))
    bayes_error = np.mean((p >= 0.5) != y)
    se = np.sqrt(bayes_risk * (1 - bayes_risk) / len(y))
    assert abs(bayes_error - bayes_risk) < 4 * se
    assert bayes_risk < min(y.mean(), 1 - y.mean())


def test_quad_boundary_proba_is_the_bayes_rule():
    X = np.array([[0.0, 0.0], [1.0, 2.0], [-3.0, 0.0]])
    z = datasets.quad_boundary_logit(X)
    np.testing.assert_allclose(z, [-1.0, -1 - 2 - 0.2 + 8, -1 + 6 - 1.8])
    p = datasets.quad_boundary_proba(X)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-z)))
    assert np.isfinite(datasets.quad_boundary_proba(np.array([[1e3, 0.0], [0.0, 1e3]]))).all()


@pytest.mark.parametrize("d", [1, 2, 7])
@pytest.mark.parametrize("margin", [0.0, 0.3, 2.0])
def test_linearly_separable_has_the_promised_separator(d, margin):
    X, y, w, b = datasets.linearly_separable(300, d, margin, random_state=d)
    assert X.shape == (300, d) and y.shape == (300,) and w.shape == (d,)
    assert isinstance(b, float)
    assert set(np.unique(y)) <= {-1, 1}
    np.testing.assert_allclose(np.linalg.norm(w), 1.0)
    assert np.all(y * (X @ w + b) >= margin - 1e-12)


def test_linearly_separable_seeding():
    a = datasets.linearly_separable(20, 3, 0.1, random_state=0)
    b = datasets.linearly_separable(20, 3, 0.1, random_state=0)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_spirals_several_classes():
    X, y = datasets.spirals(90, n_classes=3, random_state=0)
    assert X.shape == (90, 2)
    np.testing.assert_array_equal(np.bincount(y), [30, 30, 30])


def test_circles_radii_without_noise():
    X, y = datasets.circles(100, noise=0.0, factor=0.3, random_state=0)
    r = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], 0.3)


def test_xor_labels_without_noise():
    X, y = datasets.xor(40, noise=0.0, random_state=0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_load_digits(dtype):
    X, y = datasets.load_digits(dtype=dtype)
    assert X.shape == (1797, 64) and X.dtype == dtype
    assert y.shape == (1797,)
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    assert X.min() == 0.0 and X.max() == 1.0


@pytest.mark.parametrize("call, match", [
    (lambda: datasets.quad_boundary(0), "n must be"),
    (lambda: datasets.quad_boundary(2.5), "n must be"),
    (lambda: datasets.quad_boundary(10, random_state="seed"), "random_state"),
    (lambda: datasets.quad_boundary(10, random_state=-1), "random_state"),
    (lambda: datasets.quad_boundary(10, return_proba="yes"), "return_proba"),
    (lambda: datasets.xor(3), "n must be"),
    (lambda: datasets.xor(10, noise=-1), "noise"),
    (lambda: datasets.linearly_separable(10, 0, 0.1), "d must be"),
    (lambda: datasets.linearly_separable(10, 2, -0.1), "margin"),
    (lambda: datasets.circles(10, factor=1.5), "factor"),
    (lambda: datasets.circles(10, factor=0), "factor"),
    (lambda: datasets.spirals(10, turns=0), "turns"),
    (lambda: datasets.spirals(2, n_classes=3), "n must be"),
    (lambda: datasets.spirals(10, n_classes=1), "n_classes"),
    (lambda: datasets.load_digits(dtype=np.int32), "dtype"),
    (lambda: datasets.quad_boundary_logit(np.zeros((3, 3))), "2 columns"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
