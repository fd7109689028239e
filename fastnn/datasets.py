"""The lecture's data: seeded generators returning ``(X, y)``.

Every generator takes ``random_state`` (``None``, an int seed or a NumPy ``Generator``) and
returns float64 features ``X`` of shape (n, d) and integer labels ``y`` of shape (n,), with rows
in random order (so per-example SGD without shuffling still sees the classes mixed). Class
labels are 0 and 1 (0, 1, ... for several classes), except for :func:`linearly_separable`,
whose labels are the perceptron's -1 and +1.
"""
from __future__ import annotations

import numpy as np

from ._validation import check_array, check_positive

# Kuhn & Johnson's simulated two-class data: (X1, X2) ~ N(mean, cov).
QUAD_BOUNDARY_MEAN = np.array([1.0, 0.0])
QUAD_BOUNDARY_COV = np.array([[1.0, 0.7], [0.7, 2.0]])


def _check_n(name, n, minimum=1):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")
    return int(n)


def _rng(random_state):
    """A NumPy Generator from ``None``, an int seed, a SeedSequence or a Generator."""
    if random_state is None or isinstance(random_state,
                                          (np.random.Generator, np.random.SeedSequence)):
        return np.random.default_rng(random_state)
    if (isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer))
            or random_state < 0):
        raise ValueError(f"random_state must be None, a non-negative int or a numpy Generator, "
                         f"got {random_state!r}")
    return np.random.default_rng(int(random_state))


def _shuffled(rng, X, y, *more):
    order = rng.permutation(X.shape[0])
    return (X[order], y[order], *(m[order] for m in more))


def _class_sizes(n, n_classes):
    """Split ``n`` examples into ``n_classes`` classes as evenly as possible."""
    return [n // n_classes + (k < n % n_classes) for k in range(n_classes)]


def quad_boundary_logit(X):
    """The log-odds of class 1 in :func:`quad_boundary`:
    z = -1 - 2 X1 - 0.2 X1^2 + 2 X2^2.

    Parameters
    ----------
    X : array of shape (n, 2)

    Returns
    -------
    z : ndarray of shape (n,)
    """
    X = check_array("X", X, ndim=2)
    if X.shape[1] != 2:
        raise ValueError(f"X must have 2 columns (X1, X2), got shape {X.shape}")
    x1, x2 = X[:, 0], X[:, 1]
    return -1.0 - 2.0 * x1 - 0.2 * x1 ** 2 + 2.0 * x2 ** 2


def quad_boundary_proba(X):
    """P(Y = 1 | X) = 1 / (1 + exp(-z)) for :func:`quad_boundary`, z its log-odds
    (:func:`quad_boundary_logit`). The Bayes classifier predicts 1 where this is >= 1/2,
    that is where z >= 0: a quadratic boundary."""
    z = quad_boundary_logit(X)
    # exp of a non-positive number never overflows
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def quad_boundary(n=500, random_state=None, return_proba=False):
    """The two-feature, two-class simulated data of the lecture's examples (Kuhn & Johnson,
    *Applied Predictive Modeling*).

    (X1, X2) is Gaussian with mean (1, 0) and covariance [[1, 0.7], [0.7, 2]];
    z = -1 - 2 X1 - 0.2 X1^2 + 2 X2^2, and Y = 1 with probability 1 / (1 + exp(-z)).

    Parameters
    ----------
    n : int
        Number of examples.
    random_state : None, int or numpy.random.Generator
        Seed of the draw.
    return_proba : bool
        Also return P(Y = 1 | X) for each row: it gives the Bayes classifier
        (predict 1 where it is >= 1/2) and its risk, E[min(p, 1 - p)].

    Returns
    -------
    X : ndarray of shape (n, 2)
    y : ndarray of shape (n,), labels 0 and 1
    proba : ndarray of shape (n,), only with ``return_proba``
    """
    n = _check_n("n", n)
    if not isinstance(return_proba, (bool, np.bool_)):
        raise ValueError(f"return_proba must be True or False, got {return_proba!r}")
    rng = _rng(random_state)
    X = rng.multivariate_normal(QUAD_BOUNDARY_MEAN, QUAD_BOUNDARY_COV, size=n)
    proba = quad_boundary_proba(X)
    y = (rng.uniform(size=n) < proba).astype(np.int64)
    return (X, y, proba) if return_proba else (X, y)


def xor(n=200, noise=0.25, random_state=None):
    """The XOR problem: four Gaussian clusters centred on (+-1, +-1), class 1 where the two
    coordinates of the centre have different signs. No line separates the classes.

    Parameters
    ----------
    n : int
        Number of examples (>= 4), shared as evenly as possible between the four clusters.
    noise : float
        Standard deviation of each cluster (>= 0).
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n, 2)
    y : ndarray of shape (n,), labels 0 and 1
    """
    n = _check_n("n", n, minimum=4)
    noise = check_positive("noise", noise, allow_zero=True)
    rng = _rng(random_state)
    centres = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    labels = np.array([0, 0, 1, 1])
    cluster = np.repeat(np.arange(4), _class_sizes(n, 4))
    X = centres[cluster] + noise * rng.standard_normal((n, 2))
    return _shuffled(rng, X, labels[cluster])


def linearly_separable(n=100, d=2, margin=0.1, random_state=None):
    """Linearly separable data with a known separator and margin, for the perceptron.

    A unit vector w is drawn uniformly on the sphere and an offset b in [-0.5, 0.5]. Points are
    drawn from N(0, I_d) and each is moved along w, away from the hyperplane <w, x> + b = 0,
    by ``margin``, so that every point satisfies y (<w, x> + b) >= margin.

    Parameters
    ----------
    n : int
        Number of examples.
    d : int
        Number of features.
    margin : float
        Smallest distance (>= 0) of a point to the separating hyperplane.
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,), labels -1 and +1, y = sign(<w, x> + b)
    w : ndarray of shape (d,), the separator's unit normal
    b : float, the separator's offset
    """
    n = _check_n("n", n)
    d = _check_n("d", d)
    margin = check_positive("margin", margin, allow_zero=True)
    rng = _rng(random_state)
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w)
    b = float(rng.uniform(-0.5, 0.5))
    X = rng.standard_normal((n, d))
    s = X @ w + b
    y = np.where(s >= 0, 1, -1).astype(np.int64)
    X += np.outer(y * margin, w)          # <w, x + y m w> + b = s + y m, so |.| >= m
    return X, y, w, b


def circles(n=200, noise=0.1, factor=0.5, random_state=None):
    """Two concentric circles: class 0 on the unit circle, class 1 on the circle of radius
    ``factor``, both blurred by Gaussian noise.

    Parameters
    ----------
    n : int
        Number of examples (>= 2), shared evenly between the circles.
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate (>= 0).
    factor : float
        Radius of the inner circle, in (0, 1).
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n, 2)
    y : ndarray of shape (n,), labels 0 (outer) and 1 (inner)
    """
    n = _check_n("n", n, minimum=2)
    noise = check_positive("noise", noise, allow_zero=True)
    factor = check_positive("factor", factor)
    if factor >= 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    rng = _rng(random_state)
    y = np.repeat(np.arange(2), _class_sizes(n, 2))
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
    radius = np.where(y == 0, 1.0, factor)
    X = radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    X += noise * rng.standard_normal((n, 2))
    return _shuffled(rng, X, y)


def spirals(n=200, noise=0.05, turns=1.5, n_classes=2, random_state=None):
    """Interleaved spirals, one arm per class: arm k is the curve
    r (cos(2 pi (turns r + k / n_classes)), sin(...)) for r in [0.05, 1], plus Gaussian noise.

    Parameters
    ----------
    n : int
        Number of examples (>= n_classes), shared evenly between the arms.
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate (>= 0).
    turns : float
        Number of turns of each arm (> 0).
    n_classes : int
        Number of arms (>= 2).
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n, 2)
    y : ndarray of shape (n,), labels 0, ..., n_classes - 1
    """
    n_classes = _check_n("n_classes", n_classes, minimum=2)
    n = _check_n("n", n, minimum=n_classes)
    noise = check_positive("noise", noise, allow_zero=True)
    turns = check_positive("turns", turns)
    rng = _rng(random_state)
    y = np.repeat(np.arange(n_classes), _class_sizes(n, n_classes))
    r = rng.uniform(0.05, 1.0, size=n)
    angle = 2.0 * np.pi * (turns * r + y / n_classes)
    X = r[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    X += noise * rng.standard_normal((n, 2))
    return _shuffled(rng, X, y)


def load_digits(dtype=np.float64):
    """scikit-learn's bundled copy of the UCI handwritten digits (1,797 images of 8 x 8
    pixels, 10 classes), pixels scaled from 0..16 to [0, 1]. Nothing is downloaded.

    Parameters
    ----------
    dtype : numpy floating dtype
        dtype of ``X`` (float32 or float64).

    Returns
    -------
    X : ndarray of shape (1797, 64), values in [0, 1]
    y : ndarray of shape (1797,), labels 0..9
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    from sklearn.datasets import load_digits as _sklearn_digits

    X, y = _sklearn_digits(return_X_y=True)
    return (X / 16.0).astype(dtype), y.astype(np.int64)
