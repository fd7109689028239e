"""Sparse inputs (scipy.sparse X): the sparse contract functions of every backend against the
reference's, the reference's against its dense functions on the same matrix made dense, and
the estimators' sparse fits against their dense fits, with the tolerances of
:mod:`tests.tolerances` (1e-10 relative in float64, 1e-4 in float32).

The compiled sparse epochs defer the rows of the first layer a step does not read (exactly,
under L2 and momentum) and step every row when they cannot (L1, weighted batches with
alpha, the last smaller batch); the cases below cover both, and start from non-zero
velocities, as a call in the middle of training does."""
import warnings

import numpy as np
import pytest
from scipy import sparse

from fastnn import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron, get_backend, train
from fastnn import reference as R
from tests.cases import BACKENDS, COMPILED_BACKENDS, DTYPES, once_per_case
from tests.tolerances import assert_equivalent

# (step settings): plain, L2, momentum, both with Nesterov, L1 (eager), weights with alpha
# (eager), weights without alpha (deferred), alpha with l2 and momentum
SETTINGS = [
    {}, {"l2": 0.01}, {"momentum": 0.9}, {"l2": 0.01, "momentum": 0.9, "nesterov": True},
    {"l1": 0.002, "l2": 0.01, "momentum": 0.5}, {"alpha": 0.01, "weighted": True},
    {"l2": 0.01, "momentum": 0.9, "weighted": True}, {"alpha": 0.003, "momentum": 0.9},
]
SIZES = {"hidden": [17, 6, 4, 3], "linear": [17, 3]}


def csr(n, d, density, seed, dtype=np.float64):
    """A random CSR matrix, with an empty row and an empty column among its rows."""
    X = sparse.random(n, d, density=density, random_state=seed, format="lil", dtype=dtype)
    X[1, :] = 0
    X[:, 2] = 0
    return X.tocsr()


@once_per_case
def epoch_case(depth, dtype):
    """X (30 x 17 CSR), Y, an order with repeats, a network, non-zero velocities, weights."""
    rng = np.random.default_rng(7)
    sizes = SIZES[depth]
    X = csr(30, 17, 0.15, 3, dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, 30)]
    order = np.concatenate([rng.permutation(30), rng.integers(0, 30, 5)])
    weights, biases = R.init_mlp(sizes, rng, dtype)
    vel_W = [(0.01 * rng.normal(size=W.shape)).astype(dtype) for W in weights]
    vel_b = [(0.01 * rng.normal(size=b.shape)).astype(dtype) for b in biases]
    sample_weight = rng.uniform(0, 2, 30).astype(dtype)
    sample_weight[4] = 0
    return X, Y, order, weights, biases, vel_W, vel_b, sample_weight


def run_epoch(ops, X, batch_size, case, settings, sparse_fn=True):
    """One epoch of ``ops`` on a fresh copy of the case's network: (objective, every array)."""
    _, Y, order, weights, biases, vel_W, vel_b, sample_weight = case
    kwargs = dict(settings)
    if kwargs.pop("weighted", False):
        kwargs["sample_weight"] = sample_weight
    acts = ["tanh", "relu"][:len(weights) - 1]
    args = (X, Y, order, weights, biases, vel_W, vel_b, acts, "softmax_nll", 0.1)
    prefix = "sparse_" if sparse_fn else ""
    if batch_size == 1:
        value = getattr(ops, prefix + "sgd_epoch")(*args, **kwargs)
    else:
        value = getattr(ops, prefix + "minibatch_sgd_epoch")(*args, batch_size=batch_size,
                                                             **kwargs)
    return value, [*weights, *biases, *vel_W, *vel_b]


def assert_same_epoch(got, expected, dtype):
    assert_equivalent(np.array(got[0]), np.array(expected[0]), dtype)
    for a, b in zip(got[1], expected[1]):
        assert a.dtype == dtype
        assert_equivalent(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("depth", ["hidden", "linear"])
def test_reference_sparse_epochs_are_its_dense_epochs(depth, batch_size, dtype):
    for settings in SETTINGS:
        case = epoch_case(depth, dtype)
        X = case[0]
        assert_same_epoch(run_epoch(R, X, batch_size, case, settings),
                          run_epoch(R, X.toarray(), batch_size, epoch_case(depth, dtype),
                                    settings, sparse_fn=False), dtype)


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("depth", ["hidden", "linear"])
def test_compiled_sparse_epochs_match_the_reference(backend, depth, batch_size, dtype):
    ops = get_backend(backend)
    for settings in SETTINGS:
        X = epoch_case(depth, dtype)[0]
        expected = run_epoch(R, X, batch_size, epoch_case(depth, dtype), settings)
        assert_same_epoch(run_epoch(ops, X, batch_size, epoch_case(depth, dtype), settings),
                          expected, dtype)
        # and the backend's own dense epoch on the same matrix made dense
        assert_same_epoch(run_epoch(ops, X, batch_size, epoch_case(depth, dtype), settings),
                          run_epoch(ops, X.toarray(), batch_size, epoch_case(depth, dtype),
                                    settings, sparse_fn=False), dtype)


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_deferred_rows_are_brought_up_to_date_between_calls(backend):
    """Two calls over halves of an epoch give one call's parameters: every deferred row is
    up to date when a call returns (a column no row of the first call reads included)."""
    ops = get_backend(backend)
    case = epoch_case("hidden", np.float64)
    X, Y, order, weights, biases, vel_W, vel_b, _ = case
    acts, hyper = ["tanh", "relu"], dict(l2=0.01, momentum=0.9)
    whole = [a.copy() for a in (*weights, *biases, *vel_W, *vel_b)]
    n = len(whole) // 4
    ops.sparse_sgd_epoch(X, Y, order, whole[:n], whole[n:2 * n], whole[2 * n:3 * n],
                         whole[3 * n:], acts, "softmax_nll", 0.1, **hyper)
    for part in (order[:11], order[11:]):
        ops.sparse_sgd_epoch(X, Y, part, weights, biases, vel_W, vel_b, acts, "softmax_nll",
                             0.1, **hyper)
    for a, b in zip((*weights, *biases, *vel_W, *vel_b), whole):
        assert_equivalent(a, b)
    assert not np.allclose(weights[0][2], epoch_case("hidden", np.float64)[3][0][2])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("depth", ["hidden", "linear"])
def test_sparse_forward_is_the_dense_forward(backend, depth, dtype):
    ops = get_backend(backend)
    X, _, _, weights, biases, _, _, _ = epoch_case(depth, dtype)
    acts = ["tanh", "relu"][:len(weights) - 1]
    for loss in ("softmax_nll", "logistic_nll", "squared"):
        f = ops.sparse_forward(X, weights, biases, acts, loss)
        assert f.dtype == dtype
        assert_equivalent(f, R.forward(X.toarray(), weights, biases, acts, loss))
    assert ops.sparse_forward(X[:0], weights, biases, acts, "squared").shape == (0, 3)


def _not_canonical(X):
    """X as a CSR matrix the kernels get as it is (scipy does not tidy it): each row's
    columns reversed and its first entry stored twice, halved."""
    data, indices, indptr = [], [], [0]
    for t in range(X.shape[0]):
        row = slice(X.indptr[t], X.indptr[t + 1])
        values, columns = X.data[row][::-1].copy(), X.indices[row][::-1]
        if len(values):
            values[0] /= 2
            values, columns = np.r_[values[:1], values], np.r_[columns[:1], columns]
        data += list(values)
        indices += list(columns)
        indptr.append(len(data))
    found = sparse.csr_matrix((data, indices, indptr), shape=X.shape)
    assert not found.has_canonical_format
    return found


def test_sparse_inputs_in_any_format_and_index_type():
    """CSC, COO with repeated entries, a sparse array, int64 indices, unsorted and repeated
    columns within CSR rows: the same forward pass and epochs as the tidy CSR matrix."""
    X, _, _, weights, biases, *_ = epoch_case("hidden", np.float64)
    coo = sparse.coo_matrix(X)
    coo = sparse.coo_matrix((np.r_[coo.data / 2, coo.data / 2],
                             (np.tile(coo.row, 2), np.tile(coo.col, 2))), shape=X.shape)
    wide = X.copy()
    wide.indices, wide.indptr = wide.indices.astype(np.int64), wide.indptr.astype(np.int64)
    untidy = _not_canonical(X)
    acts = ["tanh", "relu"]
    expected = R.forward(X.toarray(), weights, biases, acts, "softmax_nll")
    for backend in BACKENDS:
        ops = get_backend(backend)
        for form in (X.tocsc(), coo, sparse.csr_array(X), wide, untidy):
            assert_equivalent(ops.sparse_forward(form, weights, biases, acts, "softmax_nll"),
                              expected)
        single = X.astype(np.float32)  # float32 values, float64 weights: computed in float64
        assert_equivalent(ops.sparse_forward(single, weights, biases, acts, "softmax_nll"),
                          R.forward(single.toarray(), weights, biases, acts, "softmax_nll"))
        for batch_size in (1, 4):
            for form in (coo, untidy):
                settings = {"l2": 0.01, "momentum": 0.9}
                assert_same_epoch(
                    run_epoch(ops, form, batch_size, epoch_case("hidden", np.float64), settings),
                    run_epoch(R, X, batch_size, epoch_case("hidden", np.float64), settings),
                    np.float64)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_perceptron_epoch_is_the_dense_one(backend, dtype):
    ops = get_backend(backend)
    rng = np.random.default_rng(3)
    X = csr(40, 17, 0.2, 4, dtype)
    y = np.where(rng.random(40) < 0.5, -1.0, 1.0).astype(dtype)
    for form in (X, _not_canonical(X)):
        w, b = (0.1 * rng.normal(size=17)).astype(dtype), np.zeros(1, dtype)
        w_dense, b_dense = w.copy(), b.copy()
        updates = ops.sparse_perceptron_epoch(form, y, w, b)
        assert updates == R.perceptron_epoch(X.toarray(), y, w_dense, b_dense) > 0
        assert_equivalent(w, w_dense)
        assert_equivalent(b, b_dense)


# ----------------------------------------------------------------------------- estimators


def data(n=48, d=20, seed=5):
    rng = np.random.default_rng(seed)
    X = csr(n, d, 0.2, seed)
    return X, rng.integers(0, 3, n), X.toarray() @ rng.normal(size=d)


ESTIMATORS = {
    "mlp-sgd-per-example": lambda b: MLPClassifier((6,), solver="sgd", batch_size=1,
                                                   max_iter=3, backend=b),
    "mlp-sgd-minibatch-nesterov": lambda b: MLPClassifier((6,), solver="sgd", batch_size=10,
                                                          max_iter=3, backend=b),
    "mlp-sgd-plain": lambda b: MLPClassifier((6,), solver="sgd", batch_size=1, max_iter=2,
                                             momentum=0.0, alpha=0.0, backend=b),
    "mlp-sgd-l1": lambda b: MLPClassifier((6,), solver="sgd", batch_size=4, max_iter=2,
                                          l1=1e-3, backend=b),
    "mlp-adam": lambda b: MLPClassifier((6,), solver="adam", batch_size=8, max_iter=3,
                                        backend=b),
    "mlp-lbfgs": lambda b: MLPClassifier((6,), solver="lbfgs", max_iter=15, backend=b),
    "regressor-sgd": lambda b: MLPRegressor(hidden_layer_sizes=(6,), solver="sgd",
                                            batch_size=1, max_iter=3,
                                            learning_rate_init=0.005, backend=b),
    "logistic": lambda b: LogisticRegression(max_iter=3, backend=b),
    "perceptron": lambda b: Perceptron(max_iter=5, backend=b),
    "perceptron-class-weight": lambda b: Perceptron(max_iter=5, class_weight="balanced",
                                                    backend=b),
}


def fitted(name, backend, X, y, **params):
    model = ESTIMATORS[name](backend).set_params(random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


def parameters(model):
    if hasattr(model, "coefs_"):
        return [*model.coefs_, *model.intercepts_]
    return [model.coef_, model.intercept_]


def assert_same_model(a, b):
    for p, q in zip(parameters(a), parameters(b)):
        assert p.dtype == q.dtype
        assert_equivalent(p, q)
    if hasattr(a, "loss_curve_"):
        assert_equivalent(np.array(a.loss_curve_), np.array(b.loss_curve_), a.coefs_[0].dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_estimators_fit_and_predict_sparse_as_dense(name, backend):
    X, y, y_real = data()
    target = y_real if name.startswith("regressor") else y
    sparse_model = fitted(name, backend, X, target)
    dense_model = fitted(name, backend, X.toarray(), target)
    assert_same_model(sparse_model, dense_model)
    same = assert_equivalent if name.startswith("regressor") else np.testing.assert_array_equal
    same(sparse_model.predict(X), dense_model.predict(X.toarray()))
    same(sparse_model.predict(X), sparse_model.predict(X.toarray()))
    if hasattr(sparse_model, "predict_proba"):
        assert_equivalent(sparse_model.predict_proba(X.tocsc()),
                          dense_model.predict_proba(X.toarray()))
    if hasattr(sparse_model, "decision_function"):
        assert_equivalent(sparse_model.decision_function(sparse.coo_array(X)),
                          dense_model.decision_function(X.toarray()))


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_float32_sparse_fit(backend):
    X, y, _ = data()
    X32 = X.astype(np.float32)
    a = fitted("mlp-sgd-per-example", backend, X32, y)
    assert a.coefs_[0].dtype == np.float32
    assert_same_model(a, fitted("mlp-sgd-per-example", backend, X32.toarray(), y))


@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_fit_early_stopping_and_weights_on_sparse(backend):
    X, y, _ = data(n=60)
    weights = np.linspace(0.5, 2, 60)
    for kwargs in (dict(early_stopping=True, max_iter=4), dict(max_iter=2)):
        a = MLPClassifier((5,), solver="sgd", batch_size=1, random_state=0, backend=backend,
                          **kwargs)
        b = MLPClassifier((5,), solver="sgd", batch_size=1, random_state=0, backend=backend,
                          **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a.fit(X, y, sample_weight=weights)
            b.fit(X.toarray(), y, sample_weight=weights)
        assert_same_model(a, b)
    a.partial_fit(X[:20], y[:20])
    b.partial_fit(X[:20].toarray(), y[:20])
    assert_same_model(a, b)


def test_slices_of_the_densified_solvers_make_one_call(monkeypatch):
    """Adam and L-BFGS run dense slices of a sparse X: slices of a few rows give the model of
    the whole matrix made dense."""
    X, y, _ = data()
    expected = {name: fitted(name, "numpy", X.toarray(), y) for name in ("mlp-adam", "mlp-lbfgs")}
    row = X.shape[1] * X.dtype.itemsize
    from fastnn import lbfgs

    monkeypatch.setattr(train, "DENSE_SLICE_BYTES", 3 * row)    # 8-row batches: one a slice
    monkeypatch.setattr(lbfgs, "DENSE_SLICE_BYTES", 5 * row)
    for name, model in expected.items():
        assert_same_model(fitted(name, "numpy", X, y), model)
    weights = np.linspace(0, 1, X.shape[0])
    weights[:10] = 0                                             # a slice of weight zero
    a = MLPClassifier((6,), solver="lbfgs", max_iter=15, random_state=0, backend="numpy")
    b = MLPClassifier((6,), solver="lbfgs", max_iter=15, random_state=0, backend="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_model(a.fit(X, y, sample_weight=weights),
                          b.fit(X.toarray(), y, sample_weight=weights))


def test_a_sparse_epoch_is_cut_by_its_stored_bytes():
    X, _, _ = data()
    assert train.bytes_per_row(X.toarray()) == X.shape[1] * 8
    assert train.bytes_per_row(X) < X.shape[1] * 8 / 2      # 20 % of the entries stored
    assert train.bytes_per_row(X[:0]) >= 1


@pytest.mark.parametrize("name", ["mlp-sgd-per-example", "perceptron"])
def test_bad_sparse_input_raises_as_dense_and_leaves_the_model(name):
    X, y, _ = data()
    model = fitted(name, "numpy", X, y)
    before = [p.copy() for p in parameters(model)]
    bad = X.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN") as sparse_error:
        model.fit(bad, y)
    with pytest.raises(ValueError, match="NaN") as dense_error:
        model.fit(bad.toarray(), y)
    assert str(sparse_error.value) == str(dense_error.value)
    for p, q in zip(parameters(model), before):
        np.testing.assert_array_equal(p, q)
    for wrong in (X[:, :5], X[:5]):
        with pytest.raises(ValueError) as sparse_error:
            model.predict(wrong) if wrong.shape[1] == 5 else model.fit(wrong, y)
        with pytest.raises(ValueError) as dense_error:
            (model.predict(wrong.toarray()) if wrong.shape[1] == 5
             else model.fit(wrong.toarray(), y))
        assert str(sparse_error.value) == str(dense_error.value)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)
