"""The scikit-learn compatible estimators: scikit-learn's own checks, reproducibility,
fit / partial_fit / warm_start equivalence, input validation that leaves a fitted model
untouched, divergence, and a 64-100-10 network reaching 97% on scikit-learn's digits."""
import copy
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from fastnn import codes
from fastnn import reference as R
from fastnn.datasets import linearly_separable, load_digits
from fastnn.estimators import (
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    Perceptron,
    TrainingDivergedError,
)
from fastnn.estimators._network import initial_network
from tests.cases import BACKENDS
from tests.tolerances import assert_equivalent

QUICK = dict(max_iter=30, random_state=0)


def small_estimators(backend_name):
    """Configurations small enough for scikit-learn's checks to run in about a second each, and
    trained well enough for the checks that demand a decent score. The regressor uses tanh and
    small steps: one check fits 11 rows of unscaled targets in the hundreds."""
    return [
        MLPClassifier((8,), learning_rate_init=0.05, backend=backend_name, **QUICK),
        MLPRegressor(hidden_layer_sizes=(8,), activation="tanh", batch_size=4, momentum=0.5,
                     learning_rate_init=0.001, max_iter=100, random_state=0,
                     backend=backend_name),
        LogisticRegression(max_iter=20, random_state=0, backend=backend_name),
        Perceptron(max_iter=50, random_state=0, backend=backend_name),
    ]


def stochastic_weights(estimator):
    """The checks a stochastic solver need not pass, as scikit-learn's own MLPs: steps over
    rows repeated by their integer weights are other steps than over the weighted rows (they
    agree when one batch holds the whole data set; scikit-learn runs the check on lbfgs, and
    so does :func:`test_integer_sample_weights_are_repeated_rows_with_lbfgs`). With batches
    of one, a row's weight cancels from its step (scikit-learn divides by the batch's weight
    sum): class weights then barely change the fit."""
    failing = {}
    if getattr(estimator, "solver", "lbfgs") != "lbfgs":
        failing["check_sample_weight_equivalence_on_dense_data"] = (
            "stochastic steps over weighted rows are not steps over repeated rows")
        failing["check_sample_weight_equivalence_on_sparse_data"] = (
            "stochastic steps over weighted rows are not steps over repeated rows")
        if getattr(estimator, "batch_size", None) == 1:
            failing["check_class_weight_classifiers"] = (
                "a per-example step divides its weighted gradient by its own weight")
    return failing


# scikit-learn's whole check suite on every estimator, on the fastest backend. No check is
# skipped; only those above are expected to fail, for the stochastic solvers.
@parametrize_with_checks(small_estimators("auto"), expected_failed_checks=stochastic_weights)
def test_sklearn_check_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# the reference backend too, where its per-example Python loop is cheap enough
@parametrize_with_checks([MLPClassifier((8,), learning_rate_init=0.05, backend="numpy", **QUICK),
                          Perceptron(max_iter=50, random_state=0, backend="numpy")],
                         expected_failed_checks=stochastic_weights)
def test_sklearn_check_estimator_numpy_backend(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("estimator", [
    MLPClassifier((8,), solver="lbfgs", random_state=0),
    MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0),
    LogisticRegression(solver="lbfgs", random_state=0),
], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_sample_weights_are_repeated_rows_with_lbfgs(estimator, backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_sample_weight_equivalence_on_dense_data(
            type(estimator).__name__, clone(estimator).set_params(backend=backend))


# ----------------------------------------------------------------------------- helpers


def blobs(n=120, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    return centres[y] + rng.normal(size=(n, d)), y


def parameters(model):
    """Every fitted array of a model, to compare bit for bit."""
    if isinstance(model, Perceptron):
        return [model.coef_, model.intercept_]
    net = model._network
    return [*net.weights, *net.biases, *net.vel_W, *net.vel_b]


def assert_same_parameters(a, b):
    for x, y in zip(parameters(a), parameters(b), strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def fitted(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


# ----------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("batch_size", [1, 16])
def test_same_seed_gives_bit_identical_weights(backend_name, batch_size):
    X, y = blobs()
    make = lambda seed: MLPClassifier((7, 5), activation="tanh", batch_size=batch_size,  # noqa: E731
                                      max_iter=5, random_state=seed, backend=backend_name)
    a, b, c = fitted(make(3), X, y), fitted(make(3), X, y), fitted(make(4), X, y)
    assert_same_parameters(a, b)
    assert a.loss_curve_ == b.loss_curve_
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_n_jobs_limits_threads_without_changing_the_result():
    """One thread (None, 1) is the serial epoch bit for bit; every core (-1) splits the
    batches, the same steps to rounding (tests/test_threads.py tests each backend)."""
    X, y = blobs()
    make = lambda n_jobs: MLPClassifier((6,), batch_size=16, max_iter=3, random_state=0,  # noqa: E731
                                        n_jobs=n_jobs)
    assert_same_parameters(fitted(make(None), X, y), fitted(make(1), X, y))
    for x, z in zip(parameters(fitted(make(None), X, y)), parameters(fitted(make(-1), X, y)),
                    strict=True):
        assert_equivalent(z, x)


def test_refit_restarts_from_the_seed():
    X, y = blobs()
    model = MLPClassifier((6,), max_iter=3, random_state=1)
    first = [W.copy() for W in fitted(model, X, y).coefs_]
    fitted(model, X, y)
    for W, W1 in zip(model.coefs_, first):
        np.testing.assert_array_equal(W, W1)


def test_one_epoch_is_the_lecture_sgd_from_scikit_learns_initial_weights():
    """fit = scikit-learn's initial weights from RandomState(seed), then the reference's
    per-example epoch, scikit-learn's alpha converted to the lecture's l2 = alpha / 2 per
    example of a batch of one."""
    X, y = blobs(n=40, d=4, k=3)
    model = fitted(MLPClassifier((5,), activation="tanh", solver="sgd", batch_size=1,
                                 learning_rate_init=0.05, alpha=0.01, l1=0.001, momentum=0.0,
                                 max_iter=1, shuffle=False, random_state=7, backend="numpy"), X, y)
    net = initial_network([4, 5, 3], "tanh", codes.SOFTMAX_NLL, np.random.RandomState(7),
                          np.float64)
    weights, biases = net.weights, net.biases
    vW, vb = [np.zeros_like(W) for W in weights], [np.zeros_like(b) for b in biases]
    loss = R.sgd_epoch(X, R.one_hot(y, 3), np.arange(40), weights, biases, vW, vb, ["tanh"],
                       "softmax_nll", 0.05, 0.01 / 2, 0.001)
    for got, want in zip(model.coefs_ + model.intercepts_, weights + biases):
        np.testing.assert_array_equal(got, want)
    assert model.loss_curve_ == [loss]  # the regulariser taken along the epoch, as the kernels do


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_fit_equals_successive_partial_fits(backend_name):
    X, y = blobs()
    # as in scikit-learn, every partial_fit shuffles afresh from random_state: equal orders
    # need shuffle=False
    kwargs = dict(hidden_layer_sizes=(6,), batch_size=8, max_iter=4, random_state=2,
                  shuffle=False, backend=backend_name)
    full = fitted(MLPClassifier(**kwargs), X, y)
    steps = MLPClassifier(**kwargs)
    for _ in range(4):
        steps.partial_fit(X, y, classes=[0, 1, 2])
    assert_same_parameters(full, steps)
    assert full.loss_curve_ == steps.loss_curve_ and steps.n_iter_ == 1 and steps.t_ == 4 * len(X)


def test_regressor_and_perceptron_fit_equal_partial_fits():
    X, y = blobs()
    target = X @ np.arange(X.shape[1]) / 10
    full = fitted(MLPRegressor(hidden_layer_sizes=(4,), batch_size=1, max_iter=3,
                               learning_rate_init=0.001, shuffle=False, random_state=0), X, target)
    steps = MLPRegressor(hidden_layer_sizes=(4,), batch_size=1, max_iter=3,
                         learning_rate_init=0.001, shuffle=False, random_state=0)
    for _ in range(3):
        steps.partial_fit(X, target)
    assert_same_parameters(full, steps)
    p_full = fitted(Perceptron(max_iter=3, random_state=0), X, y)
    p_steps = Perceptron(random_state=0)
    for _ in range(3):
        p_steps.partial_fit(X, y, classes=np.unique(y))
    assert_same_parameters(p_full, p_steps)
    np.testing.assert_array_equal(p_full.n_updates_, p_steps.n_updates_)


def test_warm_start_continues_exactly():
    X, y = blobs()
    # a warm fit builds a new optimiser and shuffles afresh from random_state, as scikit-learn:
    # plain SGD without shuffling continues exactly
    settings = dict(solver="sgd", momentum=0.0, shuffle=False, random_state=0)
    once = fitted(MLPClassifier((6,), max_iter=5, **settings), X, y)
    twice = fitted(MLPClassifier((6,), max_iter=2, warm_start=True, **settings), X, y)
    fitted(twice.set_params(max_iter=3), X, y)
    assert_same_parameters(once, twice)
    assert twice.n_iter_ == 3 and len(twice.loss_curve_) == 5


# ----------------------------------------------------------------------------- outputs


def test_binary_classifier_has_one_logistic_output():
    X, y = blobs(k=2)
    labels = np.array(["no", "yes"])[y]
    model = fitted(MLPClassifier((6,), learning_rate_init=0.01, random_state=0), X, labels)
    assert model.out_activation_ == "logistic" and model.coefs_[-1].shape == (6, 1)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    assert model.score(X, labels) > 0.9


def test_multiclass_classifier_has_softmax_output():
    X, y = blobs(k=4)
    model = fitted(MLPClassifier((6,), random_state=0), X, y)
    assert model.out_activation_ == "softmax" and model.coefs_[-1].shape == (6, 4)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(model.predict_proba(X)))


def test_sigmoid_is_an_alias_of_logistic():
    X, y = blobs()
    a = fitted(MLPClassifier((5,), activation="sigmoid", max_iter=3, random_state=0), X, y)
    b = fitted(MLPClassifier((5,), activation="logistic", max_iter=3, random_state=0), X, y)
    assert_same_parameters(a, b)


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_every_activation_learns(activation):
    X, y = blobs(k=2)
    model = fitted(MLPClassifier((8,), activation=activation, learning_rate_init=0.01,
                                 random_state=0), X, y)
    assert model.score(X, y) > 0.9


def test_regressor_one_and_several_targets():
    X, _ = blobs()
    Y = np.column_stack([X[:, 0] - X[:, 1], 0.5 * X[:, 2]])
    one = fitted(MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.003, random_state=0),
                 X, Y[:, 0])
    two = fitted(MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.003, random_state=0),
                 X, Y)
    assert one.predict(X).shape == (len(X),) and two.predict(X).shape == (len(X), 2)
    assert one.out_activation_ == "identity" and two.n_outputs_ == 2
    assert one.score(X, Y[:, 0]) > 0.9 and two.score(X, Y) > 0.9


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept_through_training_and_prediction(dtype):
    X, y = blobs()
    model = fitted(MLPClassifier((6,), max_iter=3, random_state=0, dtype=dtype), X, y)
    assert all(W.dtype == np.dtype(dtype) for W in model.coefs_ + model.intercepts_)
    assert model.predict_proba(X).dtype == np.dtype(dtype)
    assert model.predict_proba(X.astype(np.float32)).dtype == np.dtype(dtype)


def test_logistic_regression_is_the_logistic_unit():
    X, y = blobs(k=2)
    model = fitted(LogisticRegression(random_state=0), X, y)
    assert model.coef_.shape == (1, X.shape[1]) and model.intercept_.shape == (1,)
    a = model.decision_function(X)
    np.testing.assert_allclose(a, X @ model.coef_[0] + model.intercept_[0])
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], R.sigmoid(a), rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), model.classes_[(a > 0).astype(int)])
    assert model.score(X, y) > 0.95
    Xm, ym = blobs(k=3)
    multi = fitted(LogisticRegression(random_state=0), Xm, ym)
    assert multi.coef_.shape == (3, Xm.shape[1])
    assert multi.decision_function(Xm).shape == (len(Xm), 3)


# ----------------------------------------------------------------------------- perceptron


def test_perceptron_converges_on_separable_data_like_the_reference():
    X, y, _, _ = linearly_separable(n=200, d=3, margin=0.2, random_state=0)  # labels -1, +1
    model = Perceptron(shuffle=False, backend="numpy").fit(X, y)
    ref = R.perceptron_algorithm(X, y)
    assert model.converged_ and ref.converged
    np.testing.assert_array_equal(model.coef_[0], ref.w)
    assert model.intercept_[0] == ref.b
    assert model.n_updates_.tolist() == [ref.n_updates] and model.n_iter_ == ref.n_epochs
    assert model.score(X, y) == 1.0


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_perceptron_one_vs_rest(backend_name):
    X, y = blobs(k=3, seed=4)
    model = fitted(Perceptron(random_state=0, backend=backend_name), X, y)
    assert model.coef_.shape == (3, X.shape[1]) and model.n_updates_.shape == (3,)
    assert model.score(X, y) > 0.9
    threaded = fitted(Perceptron(random_state=0, backend=backend_name, n_jobs=2), X, y)
    assert_same_parameters(model, threaded)


def test_perceptron_reports_non_convergence():
    X, y = blobs(k=2)
    y = y.copy()
    y[:10] = 1 - y[:10]                                                   # not separable
    with pytest.warns(ConvergenceWarning, match="linearly separable"):
        model = Perceptron(max_iter=5, random_state=0).fit(X, y)
    assert not model.converged_ and model.n_iter_ == 5 and model.n_updates_[0] >= 5


# ----------------------------------------------------------------------------- training loop


def test_early_stopping_keeps_the_best_weights():
    X, y = blobs(n=300, seed=1)
    seen = []
    record = lambda info: seen.append(([W.copy() for W in info.network.weights],  # noqa: E731
                                       info.validation_score))
    model = MLPClassifier((8,), learning_rate_init=0.3, momentum=0.9, early_stopping=True,
                          n_iter_no_change=3, max_iter=60, random_state=0)
    model.fit(X, y, callbacks=[record])
    scores = [s for _, s in seen]
    assert model.validation_scores_ == scores and model.best_validation_score_ == max(scores)
    assert model.best_loss_ is None and model.n_iter_ == len(scores) < 60
    best = int(np.argmax(scores))
    for W, W_best in zip(model.coefs_, seen[best][0]):
        np.testing.assert_array_equal(W, W_best)


def test_callback_returning_true_stops_and_verbose_shows_progress(capsys):
    X, y = blobs()
    infos = []
    model = MLPClassifier((6,), max_iter=50, random_state=0, verbose=True)
    model.fit(X, y, callbacks=[lambda info: infos.append(info) or info.epoch == 3])
    assert model.n_iter_ == 3 and [i.epoch for i in infos] == [1, 2, 3]
    assert [i.loss for i in infos] == model.loss_curve_
    assert all(i.examples_per_second > 0 for i in infos)
    out = capsys.readouterr().out      # scikit-learn's verbose lines
    assert out.splitlines() == [f"Iteration {i + 1}, loss = {loss:.8f}"
                                for i, loss in enumerate(model.loss_curve_)]


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_divergence_stops_with_a_clear_error_and_leaves_the_model_unfitted(backend_name):
    # full-batch gradient descent with too large a step: the loss grows geometrically and
    # overflows after a few epochs
    X, _ = blobs()
    seen = []
    model = MLPRegressor(hidden_layer_sizes=(8,), activation="identity", solver="sgd",
                         learning_rate_init=0.1, momentum=0.0,
                         batch_size=len(X), max_iter=500, random_state=0, backend=backend_name)
    with pytest.raises(TrainingDivergedError, match="NaN or infinite"):
        model.fit(X, X[:, 0], callbacks=[lambda info: seen.append(
            [a.copy() for a in info.network.weights + info.network.biases])])
    assert len(seen) >= 3
    assert not hasattr(model, "coefs_")         # a diverging first fit leaves it unfitted


# ----------------------------------------------------------------------------- bad input


def bad_fits():
    X, y = blobs()
    X_nan, X_inf = X.copy(), X.copy()
    X_nan[3, 1], X_inf[5, 2] = np.nan, np.inf
    return {
        "nan": ((X_nan, y), ValueError, "NaN"),
        "inf": ((X_inf, y), ValueError, "infinity"),
        "lengths": ((X, y[:-1]), ValueError, "inconsistent numbers of samples"),
        "1-D X": ((X[:, 0], y), ValueError, "Expected 2D array"),
        "3-D X": ((X[:, :, None], y), ValueError, "dim 3"),
        "strings": ((X.astype(str).astype(object) + "x", y), ValueError, "could not convert"),
        "empty": ((X[:0], y[:0]), ValueError, "0 sample"),
        "one class": ((X, np.zeros_like(y)), ValueError, "at least 2 classes"),
    }


BAD_PARAMETERS = {
    "negative learning rate": (dict(learning_rate_init=-0.1), "learning_rate_init"),
    "empty layers": (dict(hidden_layer_sizes=()), "at least one layer"),
    "zero-sized layer": (dict(hidden_layer_sizes=(10, 0)), "positive integers"),
    "unknown activation": (dict(activation="softplus"), "activation"),
    "unknown backend": (dict(backend="gpu"), "backend"),
    "bad dtype": (dict(dtype="float16"), "dtype"),
}


def snapshot(model):
    """Copies of every fitted attribute."""
    return {name: copy.deepcopy(value) for name, value in vars(model).items() if name.endswith("_")}


def assert_untouched(model, before, X):
    after = snapshot(model)
    assert after.keys() == before.keys()
    for name in before:
        np.testing.assert_equal(after[name], before[name], err_msg=name)
    assert model.predict(X).shape == (len(X),)


ESTIMATORS = [MLPClassifier, MLPRegressor, LogisticRegression, Perceptron]
# one class is no error for a regressor (a constant target), nor for partial_fit (one class
# among those given at the first call is a valid update)
BAD_CALLS = [(Estimator, method, case) for Estimator in ESTIMATORS
             for method in ("fit", "partial_fit") for case in bad_fits()
             if case != "one class" or (method == "fit"
                                        and Estimator in (LogisticRegression, Perceptron))]


@pytest.mark.parametrize("Estimator,method,case", BAD_CALLS)
def test_bad_data_is_rejected_and_the_fitted_model_is_untouched(Estimator, method, case):
    X, y = blobs()
    model = fitted(Estimator(max_iter=3, random_state=0), X, y)
    before = snapshot(model)
    args, error, match = bad_fits()[case]
    needs_classes = method == "partial_fit" and Estimator is not MLPRegressor
    kwargs = {"classes": [0, 1, 2]} if needs_classes else {}
    with pytest.raises(error, match=match):
        getattr(model, method)(*args, **kwargs)
    assert_untouched(model, before, X)


@pytest.mark.parametrize("case", list(BAD_PARAMETERS))
def test_bad_hyper_parameters_are_rejected_before_training(case):
    X, y = blobs()
    model = fitted(MLPClassifier((4,), max_iter=2, random_state=0), X, y)
    before, hyper_parameters = snapshot(model), model.get_params()
    params, match = BAD_PARAMETERS[case]
    with pytest.raises(ValueError, match=match):
        model.set_params(**params).fit(X, y)
    # the fitted state is untouched: with its parameters back (a bad backend would refuse to
    # predict), the model predicts as before
    assert_untouched(model.set_params(**hyper_parameters), before, X)


@pytest.mark.parametrize("Estimator,params,match", [
    (LogisticRegression, dict(learning_rate_init=0.0), "learning_rate_init"),
    (MLPRegressor, dict(batch_size=0), "batch_size"),
    (MLPRegressor, dict(momentum=1.5), "momentum"),
    (Perceptron, dict(max_iter=0), "max_iter"),
    (Perceptron, dict(n_jobs=0), "n_jobs"),
])
def test_bad_hyper_parameters_of_every_estimator(Estimator, params, match):
    X, y = blobs()
    model = fitted(Estimator(max_iter=2, random_state=0), X, y)
    before = snapshot(model)
    with pytest.raises(ValueError, match=match):
        model.set_params(**params).fit(X, y)
    assert_untouched(model, before, X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_an_unknown_parameter_names_the_estimator_it_was_given_to(Estimator):
    with pytest.raises(TypeError, match=rf"^{Estimator.__name__}\.__init__\(\) got an "
                                        rf"unexpected keyword argument 'bad'"):
        Estimator(bad=1)


@pytest.mark.parametrize("Estimator", [MLPClassifier, LogisticRegression, Perceptron])
def test_every_classifier_checks_its_classes_by_the_same_rules(Estimator):
    """The first partial_fit names every class, later calls may not name others, there are
    at least two classes, and y holds only those classes."""
    X, y = blobs()
    model = Estimator(max_iter=2, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    if Estimator is not MLPClassifier:  # scikit-learn's MLPClassifier accepts one class
        with pytest.raises(ValueError, match=f"{Estimator.__name__} needs at least 2 classes"):
            model.partial_fit(X[y == 0], y[y == 0], classes=[0])
    with pytest.raises(ValueError, match="not among the classes"):
        model.partial_fit(X, y, classes=[0, 1])
    model.partial_fit(X, y, classes=[2, 0, 1])
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    with pytest.raises(ValueError, match="differs from the classes of the first call"):
        model.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="not among the classes"):
        model.partial_fit(X, np.where(y == 2, 7, y))
    model.partial_fit(X[y == 0], y[y == 0])  # one of the classes of the first call is enough
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])


def test_prediction_input_errors():
    X, y = blobs()
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    with pytest.raises(NotFittedError):
        Perceptron().decision_function(X)
    model = fitted(MLPClassifier((4,), max_iter=2, random_state=0), X, y)
    with pytest.raises(ValueError, match="X has 4 features, but MLPClassifier is expecting 5"):
        model.predict(X[:, :4])
    for value in (np.nan, np.inf, -np.inf):
        row = X[:1].copy()
        row[0, 2] = value
        with pytest.raises(ValueError, match="NaN|infinity"):
            model.predict_proba(row)
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="not among the classes"):
        MLPClassifier((4,)).partial_fit(X, y, classes=[0, 1])


def test_one_row_of_the_fitted_dtype_skips_sklearn_validation(monkeypatch):
    X, y = blobs()
    model = fitted(MLPClassifier((4,), max_iter=2, random_state=0, dtype="float32"), X, y)
    expected = model.predict_proba(X[:1])

    def no_validation(*args, **kwargs):
        raise AssertionError("scikit-learn's validation ran")

    monkeypatch.setattr("fastnn.estimators._base.validate_data", no_validation)
    row = X[:1].astype(np.float32)
    np.testing.assert_array_equal(model.predict_proba(row), expected)
    with_nan = row.copy()
    with_nan[0, 0] = np.nan
    # a non-finite value on the fast path is still refused, by the backend's forward
    with pytest.raises(ValueError, match="X contains NaN or infinite values"):
        model.predict_proba(with_nan)
    # another dtype or another memory layout: the checked path
    for slow in (X[:1], np.asfortranarray(X[:2].astype(np.float32))):
        with pytest.raises(AssertionError, match="validation ran"):
            model.predict_proba(slow)


def test_awkward_inputs_are_converted():
    X, y = blobs()
    X = np.round(X * 4)                    # integer values: exact in every dtype below
    reference = fitted(MLPClassifier((5,), max_iter=3, random_state=0), X, y)
    wide = np.repeat(X, 2, axis=1)[:, ::2]  # a non-contiguous view
    assert not wide.flags.c_contiguous
    for variant in (np.asfortranarray(X), wide, X.astype(np.int64), X.astype(np.float16),
                    X.tolist()):
        model = fitted(MLPClassifier((5,), max_iter=3, random_state=0), variant, y)
        assert_same_parameters(model, reference)
        np.testing.assert_array_equal(model.predict_proba(variant), reference.predict_proba(X))


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("batch_size", [1, 8])
def test_read_only_input_trains_like_a_writeable_one(backend_name, batch_size):
    X, y = blobs()
    frozen = X.copy()
    frozen.setflags(write=False)
    make = lambda: MLPClassifier((5,), batch_size=batch_size, max_iter=2, random_state=0,  # noqa: E731
                                 backend=backend_name)
    assert_same_parameters(fitted(make(), frozen, y), fitted(make(), X, y))


def test_warm_start_with_other_classes_layers_or_dtype_is_refused():
    X, y = blobs()
    model = fitted(MLPClassifier((4,), max_iter=2, random_state=0, warm_start=True), X, y)
    before = snapshot(model)
    with pytest.raises(ValueError, match="same classes"):
        model.fit(X, np.where(y == 2, 1, y))
    with pytest.raises(ValueError, match="hidden layers"):
        model.set_params(hidden_layer_sizes=(5,)).fit(X, y)
    with pytest.raises(ValueError, match="fitted in float64"):
        model.set_params(hidden_layer_sizes=(4,), dtype="float32").fit(X, y)
    assert_untouched(model, before, X)


# ----------------------------------------------------------------------------- the workload


def test_digits_workload_reaches_097():
    """The digits workload: a 64-100-10 tanh network, per-example SGD, lr 0.01, 20 epochs,
    scikit-learn's digits scaled to [0, 1], 75/25 stratified split, random_state 0, reaches
    97% test accuracy."""
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    model = MLPClassifier((100,), activation="tanh", batch_size=1, learning_rate_init=0.01,
                          max_iter=20, momentum=0.0, alpha=0.0, random_state=0)
    fitted(model, X_train, y_train)
    assert model.n_iter_ == 20
    assert model.score(X_test, y_test) >= 0.97


def test_clone_gives_an_unfitted_copy_with_the_same_parameters():
    model = MLPClassifier((3, 2), l1=0.1, backend="numpy", dtype="float32", n_jobs=1)
    twin = clone(model)
    assert twin.get_params() == model.get_params()


@pytest.mark.parametrize("estimator", [MLPClassifier(hidden_layer_sizes=(8,), max_iter=5,
                                                     random_state=0),
                                       Perceptron(max_iter=5, random_state=0)],
                         ids=["MLPClassifier", "Perceptron"])
def test_a_fitted_model_predicts_with_the_backend_it_is_set_to(estimator):
    from fastnn import get_backend

    X, y = linearly_separable(n=40, random_state=0)[:2]
    model = clone(estimator).set_params(backend=BACKENDS[0]).fit(X, y)
    scores = getattr(model, "predict_proba", None) or model.decision_function
    expected = scores(X)
    model.set_params(backend="numpy")
    assert model._ops() is get_backend("numpy")
    assert_equivalent(scores(X), expected)
