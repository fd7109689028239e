"""The parameter and attribute tables shared by the docstrings of MLPClassifier and
MLPRegressor (numpydoc sections, spliced into each class's docstring)."""

_MLP_DOC_PARAMETERS = """
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units of each hidden layer (at least one layer, every size >= 1).
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Hidden activation g; "sigmoid" is accepted as an alias of "logistic".
    alpha : float, default=1e-4
        L2 weight decay as scikit-learn's MLP defines it: 0.5 * alpha * sum_k ||W_k||_F^2 is
        added to each batch's summed loss before the mean is taken, so a step of m rows adds
        (alpha / m) * W to the weights' gradient (biases are not decayed); with sample weights,
        m is the batch's weight sum. The lecture's lambda ||W||^2 is alpha / (2 m) here.
    l1 : float, default=0
        L1 weight decay: l1 * sum_k |W_k|_1, gradient l1 * sign(W), on weights only.
    batch_size : int or "auto", default="auto"
        1 runs the fused per-example SGD kernel; more runs minibatch SGD (gradient averaged over
        the batch). "auto" is min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The schedule (:mod:`fastnn.schedules`), updated between epochs.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=200
        Maximum number of epochs of a ``fit``.
    shuffle : bool, default=True
        Visit the rows in a new random order every epoch.
    random_state : None, int, numpy Generator or RandomState
        Seeds the Glorot initialisation, the shuffling and the validation split; an int gives
        bit-identical weights on a rerun.
    tol, n_iter_no_change : float, int, default=1e-4, 10
        Training stops (or the "adaptive" schedule divides its rate by 5) after more than
        ``n_iter_no_change`` epochs in which the loss did not fall by ``tol`` (with
        ``early_stopping``: the validation score did not rise by ``tol``).
    verbose : bool, default=False
        Show a progress bar (tqdm): epoch, loss, examples per second.
    warm_start : bool, default=False
        ``fit`` continues from the current weights, with a new optimiser as in scikit-learn:
        the schedule restarts at the current ``learning_rate_init``, the velocities at zero.
    momentum : float in [0, 1], default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for classifiers),
        stop when its score stops improving and keep the weights of the best score.
    validation_fraction : float, default=0.1
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
        The kernels that train and predict ("auto": the fastest available).
    dtype : {"float32", "float64"} or None, default=None
        Precision of the weights and of the computation. None takes it from the input, as
        scikit-learn: float32 data trains and predicts in float32 (without a copy),
        anything else in float64.
    n_jobs : int or None, default=None
        Threads of training (-1: one per core). Minibatch SGD and Adam split every batch
        across them: the same steps as one thread up to rounding, and the same bits for a
        given ``n_jobs``. Per-example SGD and Adam (``batch_size=1``) run Hogwild!, each
        thread stepping the shared weights over its share of the epoch without locks: not
        bit-reproducible, worth it when each example moves few weights (sparse rows).
        L-BFGS, ``backend="numpy"`` and graphs trained box by box run BLAS on ``n_jobs``
        threads instead; the split epochs hold BLAS to one thread while they train. None:
        one thread, BLAS at its library's default.
        The batches' threads are OpenMP's, which do not survive ``fork``: a process forked
        after such training (multiprocessing's "fork" start method) trains its batches on
        one thread, with a RuntimeWarning.
"""

_MLP_DOC_ATTRIBUTES = """
    coefs_ : list of ndarray
        ``coefs_[k]`` of shape (n_in, n_out), input-major (the lecture's W^(k) transposed).
    intercepts_ : list of ndarray
    loss_ : float
        Mean training loss of the last epoch plus the regulariser.
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run by the last ``fit`` or ``partial_fit`` call (1 after ``partial_fit``), as
        in scikit-learn.
    t_ : int
        Training examples seen, over every call since the weights were initialised (as
        ``loss_curve_``).
    n_layers_, n_outputs_, out_activation_, n_features_in_, feature_names_in_
"""
