"""How far float32 fits on a sparse X and on its dense copy are from the float64 fit.

Two epochs of per-example SGD (``MLPClassifier``, cython, 64 hidden units, scikit-learn's
defaults and two variants) on a 2,000 x 5,000 CSR matrix with 40 nonzeros a row
(:func:`bench.test_sparse.sparse_problem`), in float64 on the dense copy (the truth) and in
float32 on the sparse matrix and on its dense copy, and in float64 on the sparse matrix.
Prints the largest parameter difference of each fit from the float64 dense one, relative to
its largest parameter.

A weight whose input is zero decays by lr 2 L w a step (about 1e-7 w here), below half a
float32 unit in the last place: the dense float32 step rounds much of it away at every
step, while the sparse path applies the missed steps as one product with a power of the
step matrix. Run from the repository root: ``python -m bench.sparse_float32``.
"""
import warnings

import numpy as np

from bench.test_sparse import sparse_problem
from fastnn import MLPClassifier


def fit(X, y, dtype, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPClassifier((64,), solver="sgd", batch_size=1, max_iter=2, random_state=0,
                             backend="cython", dtype=dtype, **params).fit(X, y)


def difference(model, truth):
    return max(float(np.abs(p.astype(np.float64) - q).max() / np.abs(q).max())
               for p, q in zip(model.coefs_ + model.intercepts_,
                               truth.coefs_ + truth.intercepts_))


def main():
    X, y = sparse_problem(2_000, 5_000, 40, seed=1)
    X32 = X.astype(np.float32)
    for params in ({}, {"momentum": 0.0}, {"alpha": 0.0}):
        truth = fit(X.toarray(), y, "float64", **params)
        dense = fit(X32.toarray(), y, "float32", **params)
        sparse = fit(X32, y, "float32", **params)
        sparse64 = fit(X, y, "float64", **params)
        print(f"{params or 'defaults'}: dense float32 {difference(dense, truth):.1e}, "
              f"sparse float32 {difference(sparse, truth):.1e}, "
              f"sparse / dense float32 {difference(sparse, dense):.1e}, "
              f"sparse / dense float64 {difference(sparse64, truth):.1e}")


if __name__ == "__main__":
    main()
