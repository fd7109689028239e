"""The scikit-learn parameters of fastnn's Perceptron: eta0, fit_intercept, tol and
n_iter_no_change, early_stopping, class_weight, penalty, verbose, and the counters n_iter_
and t_. Two oracles: a direct loop of the lecture's update written here, and scikit-learn's
own Perceptron, whose mistake rule is the same y (w.x + b) <= 0."""
import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Perceptron as SkPerceptron
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils import compute_class_weight

from fastnn import backend
from fastnn.datasets import linearly_separable
from fastnn.estimators import Perceptron

BACKENDS = backend.available_backends()


def separable(n=200):
    X, y, _, _ = linearly_separable(n=n, d=3, margin=0.2, random_state=0)  # labels -1, +1
    return X, y


def noisy(n=150, d=4, k=3, seed=0):
    """k overlapping classes of integer-valued rows: sums and products are exact in float64,
    so every oracle agrees to the last bit."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    return (rng.integers(-4, 5, size=(n, d)) + 2 * y[:, None]).astype(float), y


def lecture_loop(X, targets, epochs, step=1.0, row_steps=None, fit_intercept=True,
                 w=None, b=0.0):
    """The lecture's perceptron, one row at a time: on y (w.x + b) <= 0,
    w <- w + step s_i y x and b <- b + step s_i y (b left at its value without intercept).
    Stops after an epoch without a mistake. Returns w, b and the mistakes of each epoch."""
    w = np.zeros(X.shape[1]) if w is None else w.copy()
    s = np.ones(len(X)) if row_steps is None else row_steps
    mistakes = []
    for _ in range(epochs):
        count = 0
        for x_i, y_i, s_i in zip(X, targets, s):
            if y_i * (x_i @ w + b) <= 0 and s_i > 0:
                w = w + step * s_i * y_i * x_i
                if fit_intercept:
                    b = b + step * s_i * y_i
                count += 1
        mistakes.append(count)
        if count == 0:
            break
    return w, b, mistakes


def plus_minus(y, positive):
    return np.where(y == positive, 1.0, -1.0)


def fit_quietly(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


# ---------------------------------------------------------------------------------- eta0


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_eta0_is_the_step_of_the_lecture_loop(backend_name):
    X, y = noisy(k=2)
    for eta0 in (0.25, 3.0):
        model = fit_quietly(Perceptron(eta0=eta0, shuffle=False, tol=None, max_iter=4,
                                       backend=backend_name), X, y)
        w, b, _ = lecture_loop(X, plus_minus(y, 1), 4, step=eta0)
        np.testing.assert_allclose(model.coef_[0], w, rtol=1e-12)
        np.testing.assert_allclose(model.intercept_[0], b, rtol=1e-12)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_predictions_do_not_depend_on_eta0_from_zero_weights(backend_name):
    X, y = noisy()
    models = [fit_quietly(Perceptron(eta0=eta0, max_iter=20, random_state=1,
                                     backend=backend_name), X, y)
              for eta0 in (0.25, 1.0, 8.0)]  # powers of 2: the scaling is exact, ties too
    for model in models[1:]:
        np.testing.assert_array_equal(model.predict(X), models[0].predict(X))
        np.testing.assert_array_equal(model.n_updates_, models[0].n_updates_)
        np.testing.assert_array_equal(model.coef_ / model.eta0, models[0].coef_ / 0.25)


def test_continuing_with_another_eta0_steps_from_the_current_weights():
    X, y = noisy(k=2)
    model = fit_quietly(Perceptron(shuffle=False, tol=None, max_iter=2, backend="numpy"),
                        X, y)
    w0, b0 = model.coef_[0].copy(), model.intercept_[0]
    model.set_params(eta0=0.5, warm_start=True, max_iter=3)
    fit_quietly(model, X, y)
    w, b, _ = lecture_loop(X, plus_minus(y, 1), 3, step=0.5, w=w0, b=b0)
    np.testing.assert_allclose(model.coef_[0], w, rtol=1e-12)
    np.testing.assert_allclose(model.intercept_[0], b, rtol=1e-12)
    model.partial_fit(X, y)
    w, b, _ = lecture_loop(X, plus_minus(y, 1), 1, step=0.5, w=w, b=b)
    np.testing.assert_allclose(model.coef_[0], w, rtol=1e-12)


# ------------------------------------------------------------------------- fit_intercept


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_without_intercept_b_stays_zero_and_the_decision_is_w_dot_x(backend_name):
    X, y = noisy()
    model = fit_quietly(Perceptron(fit_intercept=False, shuffle=False, tol=None, max_iter=3,
                                   backend=backend_name), X, y)
    np.testing.assert_array_equal(model.intercept_, np.zeros(3))
    np.testing.assert_array_equal(model.decision_function(X), X @ model.coef_.T)
    for k in range(3):
        w, b, _ = lecture_loop(X, plus_minus(y, k), 3, fit_intercept=False)
        np.testing.assert_array_equal(model.coef_[k], w)
        assert b == 0.0


# ------------------------------------------------------------- scikit-learn as an oracle


# eta0 a power of 2: on integer rows a margin is often exactly 0, and only then does
# rounding not decide whether it is a mistake
@pytest.mark.parametrize("params", [dict(), dict(eta0=0.25), dict(fit_intercept=False),
                                    dict(class_weight={0: 2.0, 2: 0.5})])
@pytest.mark.parametrize("max_iter", [1, 3])
def test_same_weights_as_scikit_learn(params, max_iter):
    """scikit-learn's Perceptron with shuffle=False, tol=None runs the very same updates
    (it does not stop after an epoch without a mistake, so this data makes mistakes in each
    of the first epochs)."""
    X, y = noisy()
    ours = fit_quietly(Perceptron(shuffle=False, tol=None, max_iter=max_iter,
                                  backend="numpy", **params), X, y)
    theirs = fit_quietly(SkPerceptron(shuffle=False, tol=None, max_iter=max_iter, **params),
                         X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_


def test_same_weights_as_scikit_learn_on_separable_data():
    X, y = separable()
    ours = Perceptron(shuffle=False, tol=None, eta0=0.3, backend="numpy").fit(X, y)
    theirs = fit_quietly(SkPerceptron(shuffle=False, tol=None, eta0=0.3, max_iter=ours.n_iter_),
                         X, y)
    assert ours.converged_
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-12)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-12)
    assert ours.t_ == theirs.t_ == ours.n_iter_ * len(X) + 1


def test_t_counts_as_scikit_learn_over_fit_and_partial_fit():
    X, y = noisy()
    ours, theirs = Perceptron(max_iter=4, tol=None), SkPerceptron(max_iter=4, tol=None)
    for model in (ours, theirs):
        fit_quietly(model, X, y)
        model.partial_fit(X[:50], y[:50])
        model.partial_fit(X[:30], y[:30])
    assert ours.n_iter_ == theirs.n_iter_ == 1
    assert ours.t_ == theirs.t_ == 1 + 4 * 150 + 50 + 30
    fit_quietly(ours.set_params(warm_start=True), X, y)
    assert ours.t_ == 1 + 4 * 150  # every fit starts counting again, as scikit-learn's


# ---------------------------------------------------------------- tol, n_iter_no_change


def epochs_of_the_tol_rule(mistakes, n, tol, patience):
    """When scikit-learn's rule stops, given the mistakes of each epoch."""
    best, no_improvement = np.inf, 0
    for epoch, count in enumerate(mistakes, start=1):
        loss = count / n
        no_improvement = no_improvement + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count == 0 or no_improvement >= patience:
            return epoch
    raise AssertionError("the rule did not stop within the epochs given")


@pytest.mark.parametrize("tol,patience", [(1e-3, 5), (1e-3, 2), (0.05, 3), (0.0, 4)])
def test_tol_stops_when_the_epoch_error_rate_stops_improving(tol, patience):
    X, y = noisy(k=2)
    _, _, mistakes = lecture_loop(X, plus_minus(y, 1), 300)
    expected = epochs_of_the_tol_rule(mistakes, len(X), tol, patience)
    model = Perceptron(shuffle=False, tol=tol, n_iter_no_change=patience, max_iter=300,
                       backend="numpy").fit(X, y)
    assert model.n_iter_ == expected < 300 and not model.converged_
    assert model.n_updates_[0] == sum(mistakes[:expected])


def test_tol_none_runs_max_iter_and_warns_on_data_that_is_not_separable():
    X, y = noisy(k=2)
    with pytest.warns(ConvergenceWarning, match="linearly separable"):
        model = Perceptron(tol=None, max_iter=40, random_state=0).fit(X, y)
    assert model.n_iter_ == 40 and not model.converged_


def test_an_epoch_without_a_mistake_stops_whatever_tol():
    X, y = separable()
    _, _, mistakes = lecture_loop(X, y, 1000)
    for tol in (None, 1e-3, 0.5):
        model = Perceptron(shuffle=False, tol=tol, n_iter_no_change=1000, backend="numpy")
        model.fit(X, y)
        assert model.converged_ and model.n_iter_ == len(mistakes)


def test_each_one_vs_rest_perceptron_stops_on_its_own():
    X, y = noisy()
    model = Perceptron(shuffle=False, n_iter_no_change=2, max_iter=300, backend="numpy")
    model.fit(X, y)
    stops = []
    for k in range(3):
        _, _, mistakes = lecture_loop(X, plus_minus(y, k), 300)
        stops.append(epochs_of_the_tol_rule(mistakes, len(X), 1e-3, 2))
        assert model.n_updates_[k] == sum(mistakes[:stops[-1]])
    assert model.n_iter_ == max(stops)


# ------------------------------------------------------------------------ early stopping


def test_early_stopping_holds_out_a_stratified_split_and_trains_on_the_rest():
    X, y = noisy(n=200, k=2)
    model = fit_quietly(Perceptron(early_stopping=True, validation_fraction=0.2, tol=None,
                                   shuffle=False, max_iter=3, random_state=5,
                                   backend="numpy"), X, y)
    # the split the estimator draws: a seed from its generator, then scikit-learn's splitter
    seed = int(np.random.default_rng(5).integers(2 ** 31 - 1))
    split = StratifiedShuffleSplit(test_size=0.2, random_state=seed)
    train, held_out = next(split.split(np.zeros((len(y), 1)), y))
    assert len(held_out) == 40 and abs(np.mean(y[held_out]) - np.mean(y)) < 0.03
    train = np.sort(train)
    w, b, _ = lecture_loop(X[train], plus_minus(y[train], 1), 3)
    np.testing.assert_array_equal(model.coef_[0], w)
    assert model.intercept_[0] == b and model.t_ == 1 + 3 * 200


def test_early_stopping_stops_on_validation_accuracy_and_keeps_the_last_weights(capsys):
    X, y = noisy(n=300, k=2, seed=3)
    model = Perceptron(early_stopping=True, n_iter_no_change=3, max_iter=500, random_state=0,
                       verbose=1, backend="numpy").fit(X, y)
    lines = re.findall(r"validation accuracy \[([0-9.]+)\]", capsys.readouterr().out)
    scores = [float(s) for s in lines]
    assert len(scores) == model.n_iter_ < 500
    best, no_improvement = -np.inf, 0
    for epoch, score in enumerate(scores, start=1):
        no_improvement = no_improvement + 1 if score < best + 1e-3 else 0
        best = max(best, score)
        assert (no_improvement >= 3) == (epoch == len(scores))
    # the weights are those of the last epoch, not of the best one
    rerun = fit_quietly(Perceptron(early_stopping=True, tol=None, max_iter=model.n_iter_,
                                   random_state=0, backend="numpy"), X, y)
    np.testing.assert_array_equal(model.coef_, rerun.coef_)


def test_partial_fit_refuses_early_stopping():
    X, y = noisy()
    with pytest.raises(ValueError, match="early_stopping should be False with partial_fit"):
        Perceptron(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


# -------------------------------------------------------------------------- class_weight


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_class_weight_multiplies_the_update_of_a_mistake(backend_name):
    X, y = noisy(k=2)
    weights = {0: 2.0, 1: 0.25}
    model = fit_quietly(Perceptron(class_weight=weights, eta0=0.5, shuffle=False, tol=None,
                                   max_iter=3, backend=backend_name), X, y)
    s = np.where(y == 0, 2.0, 0.25)
    w, b, _ = lecture_loop(X, plus_minus(y, 1), 3, step=0.5, row_steps=s)
    np.testing.assert_array_equal(model.coef_[0], w)
    assert model.intercept_[0] == b


def test_class_weight_of_one_vs_rest_weighs_the_positive_class():
    X, y = noisy()
    model = fit_quietly(Perceptron(class_weight={1: 4.0}, shuffle=False, tol=None,
                                   max_iter=2, backend="numpy"), X, y)
    for k in range(3):
        s = np.where(y == k, 4.0 if k == 1 else 1.0, 1.0)
        w, b, _ = lecture_loop(X, plus_minus(y, k), 2, row_steps=s)
        np.testing.assert_array_equal(model.coef_[k], w)
        assert model.intercept_[k] == b


def test_balanced_class_weight_is_scikit_learns_and_partial_fit_refuses_it():
    X, y = noisy(k=2)
    y = np.where(np.arange(len(y)) < 30, 0, 1)            # 30 against 120
    weights = dict(zip([0, 1], compute_class_weight("balanced", classes=np.array([0, 1]), y=y)))
    balanced = fit_quietly(Perceptron(class_weight="balanced", max_iter=5, random_state=0),
                           X, y)
    explicit = fit_quietly(Perceptron(class_weight=weights, max_iter=5, random_state=0), X, y)
    np.testing.assert_array_equal(balanced.coef_, explicit.coef_)
    with pytest.raises(ValueError, match="'balanced' is not supported by partial_fit"):
        Perceptron(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_a_class_of_weight_zero_never_updates_and_negative_weights_are_refused():
    X, y = noisy(k=2)
    model = fit_quietly(Perceptron(class_weight={0: 0.0}, max_iter=5, random_state=0), X, y)
    # only rows of class 1 update: w is a sum of its rows, b a count of them
    assert model.intercept_[0] == model.n_updates_[0] > 0
    with pytest.raises(ValueError, match="class_weight values must be >= 0"):
        Perceptron(class_weight={0: -1.0}).fit(X, y)


# -------------------------------------------------------------------- penalty and others


@pytest.mark.parametrize("penalty", ["l2", "l1", "elasticnet"])
def test_a_penalty_is_refused(penalty):
    X, y = noisy()
    with pytest.raises(ValueError, match="the lecture's perceptron has no penalty"):
        Perceptron(penalty=penalty).fit(X, y)


def test_scikit_learns_parameter_names_and_defaults():
    ours = Perceptron().get_params()
    theirs = SkPerceptron().get_params()
    shared = set(theirs) - {"alpha", "l1_ratio", "random_state"}
    assert shared <= set(ours)
    assert {name: ours[name] for name in shared} == {name: theirs[name] for name in shared}


def test_partial_fit_learns_from_a_new_batch_after_convergence():
    X, y = separable()
    model = Perceptron(random_state=0).fit(X, y)
    assert model.converged_
    flipped = -y[:20]
    before = model.coef_.copy()
    model.partial_fit(X[:20], flipped)
    assert model.n_iter_ == 1 and not np.array_equal(model.coef_, before)


def test_t_survives_save_and_load(tmp_path):
    X, y = noisy()
    model = fit_quietly(Perceptron(max_iter=3, random_state=0), X, y)
    model.save(tmp_path / "p.npz")
    loaded = Perceptron.load(tmp_path / "p.npz")
    assert loaded.t_ == model.t_ == 1 + 3 * 150
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    assert loaded.t_ == model.t_
