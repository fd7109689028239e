"""fastnn's estimators on a dask cluster: dask-ml's ``Incremental`` trains an MLPClassifier
block by block through ``partial_fit``, and scikit-learn's ``GridSearchCV`` runs its fits on
the cluster under ``joblib.parallel_backend("dask")``.

Checked with dask 2026.8.0, distributed 2026.8.0, dask-ml 2025.1.0 and scikit-learn 1.9.1.
With these versions dask-ml's ``HyperbandSearchCV`` fails inside dask, whatever the
estimator: its ``fit`` stops at ``dask.persist`` (dask_ml/model_selection/_incremental.py)
with ``RuntimeError: Attempting to use an asynchronous Client in a synchronous context of
`dask.compute```. ``test_hyperband_search`` records it as an expected failure; nothing is
pinned for it.
"""
import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("dask_ml")

import dask.array as da  # noqa: E402
import joblib  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402

from fastnn import available_backends  # noqa: E402
from fastnn.datasets import load_digits  # noqa: E402
from fastnn.estimators import MLPClassifier  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")]

# the ahead-of-time compiled backend: numba would compile its kernels again in every worker
BACKEND = "cython" if "cython" in available_backends() else "auto"


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return train_test_split(X, y, test_size=0.3, random_state=0)


def test_incremental_partial_fit_learns_digits(client, digits):
    from dask_ml.wrappers import Incremental

    X_train, X_test, y_train, y_test = digits
    X_blocks = da.from_array(X_train, chunks=(300, -1))
    y_blocks = da.from_array(y_train, chunks=300)
    model = Incremental(MLPClassifier((64,), learning_rate_init=0.01, random_state=0,
                                      backend=BACKEND), scoring="accuracy")
    for _ in range(5):  # each call is one partial_fit per block, on the workers
        model.partial_fit(X_blocks, y_blocks, classes=np.arange(10))
    assert model.estimator_.n_features_in_ == 64
    assert np.mean(model.predict(X_test) == y_test) >= 0.9


def test_grid_search_on_the_cluster(client, digits):
    X_train, X_test, y_train, y_test = digits
    search = GridSearchCV(MLPClassifier(max_iter=30, random_state=0, backend=BACKEND),
                          {"hidden_layer_sizes": [(16,), (32,)]}, cv=2, n_jobs=-1)
    with joblib.parallel_backend("dask"):
        search.fit(X_train, y_train)
    local = GridSearchCV(search.estimator, search.param_grid, cv=2).fit(X_train, y_train)
    # the same fits as in this process, to the last bit
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    assert search.score(X_test, y_test) >= 0.85


@pytest.mark.xfail(raises=RuntimeError, strict=False,
                   reason="dask-ml's HyperbandSearchCV calls dask.persist with an "
                          "asynchronous Client (see the module docstring)")
def test_hyperband_search(client, digits):
    from dask_ml.model_selection import HyperbandSearchCV

    X_train, _, y_train, _ = digits
    search = HyperbandSearchCV(MLPClassifier(random_state=0, backend=BACKEND),
                               {"learning_rate_init": [0.001, 0.003, 0.01]}, max_iter=3,
                               random_state=0)
    search.fit(da.from_array(X_train, chunks=(300, -1)), da.from_array(y_train, chunks=300),
               classes=np.arange(10))
    assert search.best_params_["learning_rate_init"] in (0.001, 0.003, 0.01)
