"""The multilayer perceptron: forward propagation, backpropagation, and SGD epochs.

A network is described by parallel lists: ``weights[k]`` (n_in, n_out) input-major,
``biases[k]`` (n_out,), ``activations[k]`` the code of hidden layer k's activation (one per
hidden layer, so ``len(activations) == len(weights) - 1``), and ``loss``, the code of the
output loss, which fixes the output function (softmax, logistic or identity).

Targets are a matrix ``Y`` (n, n_outputs): one-hot rows e(y) for softmax-NLL, 0/1 for
logistic-NLL, real values for squared loss.
"""
from __future__ import annotations

import numpy as np

from .._contract import (
    check_adam_epoch,
    check_batch_size,
    check_epoch,
    check_forward,
    check_network,
    check_threads,
    network_codes,
)
from .._validation import check_array, check_same_rows
from .activations import ACTIVATION_FUNCTIONS, DERIVATIVE_FUNCTIONS
from .dense import adam_learning_rate, adam_step, minibatch_step, sgd_step
from .losses import fused_output, output_function, output_loss_grad
from .regularization import l1_grad, l1_penalty, l2_grad, l2_penalty


def _codes(weights, biases, activations, loss, n_features):
    """The network's activation and loss codes, after checking its shapes."""
    act_codes, loss = network_codes(activations, loss)
    check_network(weights, biases, len(act_codes), n_features)
    return act_codes, loss


def _fprop(x, weights, biases, act_codes):
    """Forward propagation: [h^(0) = x, h^(1), ..., h^(L), a^(L+1)] (no output function yet)."""
    hs = [x]
    for k, (W, b) in enumerate(zip(weights, biases)):
        a = hs[-1] @ W + b                      # a^(k) = b^(k) + W^(k) h^(k-1)
        hs.append(ACTIVATION_FUNCTIONS[act_codes[k]](a) if k < len(act_codes) else a)
    return hs


def _bprop(hs, grad_a, weights, act_codes):
    """Backpropagation from the output gradient nabla_a^(L+1); returns per-layer gradients
    of the loss summed over the rows of the batch (the slide "BACKPROPAGATION")."""
    grads_W = [None] * len(weights)
    grads_b = [None] * len(weights)
    for k in range(len(weights) - 1, -1, -1):       # for k from L+1 to 1
        grads_W[k] = hs[k].T @ grad_a               # nabla_W^(k) = nabla_a^(k) h^(k-1)^T
        grads_b[k] = grad_a.sum(axis=0)             # nabla_b^(k) = nabla_a^(k)
        if k:
            grad_h = grad_a @ weights[k].T          # nabla_h^(k-1) = W^(k)^T nabla_a^(k)
            grad_a = grad_h * DERIVATIVE_FUNCTIONS[act_codes[k - 1]](hs[k])  # (.) g'(a^(k-1))
    return grads_W, grads_b


def forward(X, weights, biases, activations, loss):
    """The network's output f(X) for a batch of rows: hidden layers, then the output function."""
    X, weights, biases, act_codes, loss = check_forward(X, weights, biases, activations, loss)
    return output_function(_fprop(X, weights, biases, act_codes)[-1], loss)


def mlp_loss(X, Y, weights, biases, activations, loss, l2=0.0, l1=0.0):
    """Regularised empirical risk (1/n) sum_t l(f(x^(t)), y^(t)) + l2 Omega_2 + l1 Omega_1."""
    X = check_array("X", X, ndim=2)
    Y = check_array("Y", Y, ndim=2)
    check_same_rows(X=X, Y=Y)
    act_codes, loss = _codes(weights, biases, activations, loss, X.shape[1])
    a = _fprop(X, weights, biases, act_codes)[-1]
    f, g = np.empty_like(a), np.empty_like(a)
    value = output_loss_grad(a, Y, loss, f, g) / X.shape[0]
    return value + l2 * l2_penalty(weights) + l1 * l1_penalty(weights)


def mlp_gradients(X, Y, weights, biases, activations, loss, l2=0.0, l1=0.0):
    """Gradients of :func:`mlp_loss` with respect to every weight and bias, by backprop.
    Returns ``(grads_W, grads_b)``."""
    X = check_array("X", X, ndim=2)
    Y = check_array("Y", Y, ndim=2)
    check_same_rows(X=X, Y=Y)
    act_codes, loss = _codes(weights, biases, activations, loss, X.shape[1])
    hs = _fprop(X, weights, biases, act_codes)
    f, grad_a = np.empty_like(hs[-1]), np.empty_like(hs[-1])
    output_loss_grad(hs[-1], Y, loss, f, grad_a)
    grads_W, grads_b = _bprop(hs, grad_a, weights, act_codes)
    n = X.shape[0]
    grads_W = [gW / n + l2 * l2_grad(W) + l1 * l1_grad(W) for gW, W in zip(grads_W, weights)]
    return grads_W, [gb / n for gb in grads_b]


def penalty(weights, l2, l1):
    """The regulariser's value l2 Omega_2 + l1 Omega_1 of the weights (0 without decay)."""
    value = 0.0
    if l2:
        value += float(l2) * l2_penalty(weights)
    if l1:
        value += float(l1) * l1_penalty(weights)
    return value


WEIGHTS_DOC = """
    **Sample weights and alpha.** With ``sample_weight`` (one weight s_t >= 0 per row of X;
    None: all 1), a step over the batch I of rows weighs example t's loss and gradient by
    s_t and divides the summed gradient by S_I = sum_{t in I} s_t instead of |I|:
    grad = (1/S_I) sum_{t in I} s_t nabla l_t (for a per-example step the weight cancels:
    grad = nabla l_t). ``alpha`` is scikit-learn's L2 term, 0.5 alpha ||W||^2 added to each
    step's weighted summed loss before that division: the step's L2 coefficient is
    l2_I = l2 + alpha / (2 S_I), while the lecture's ``l2`` and ``l1`` are not divided. A
    step whose weights sum to zero has no data gradient and no alpha term (l2_I = l2). The
    returned objective is (1/|order|) sum_I |I| (sum_{t in I} s_t l_t / S_I
    + l2_I Omega_2 + l1 Omega_1), the weighted mean loss of each step's rows counted once per
    row (0 for a step of zero weight), the regulariser at the parameters before the step;
    without weights it is the plain mean per-example objective.
"""


def _step_terms(e, rows, losses, grad_a):
    """A step's (objective summed over its rows, gradient at the output, divisor, l2): the
    rows' weighted losses and gradients, S_I and l2_I of the module's weighting rules."""
    m = len(rows)
    if e.sample_weight is None:
        return float(np.sum(losses)), grad_a, m, e.l2 + e.alpha / (2 * m)
    s = e.sample_weight[rows]
    total = s.sum()
    if total == 0:
        return 0.0, np.zeros_like(grad_a), 1, e.l2
    value = (m / float(total)) * float(np.dot(s.astype(np.float64), losses))
    return value, grad_a * s[:, None], total, e.l2 + e.alpha / (2 * total)


def _output(e, rows, a):
    """The fused output of a step's rows: (each row's loss, the gradient at the output)."""
    f, grad_a = np.empty_like(a), np.empty_like(a)
    if e.sample_weight is None:  # one call, so that the unweighted sums keep their rounding
        return np.array([fused_output(a, e.Y[rows], e.loss, f, grad_a)]), grad_a
    losses = np.array([fused_output(a[i:i + 1], e.Y[rows[i:i + 1]], e.loss, f[i:i + 1],
                                    grad_a[i:i + 1]) for i in range(len(rows))])
    return losses, grad_a


def sgd_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
              lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False, sample_weight=None, alpha=0.0,
              n_threads=1):
    """One epoch of per-example SGD, written as the lecture's loop; parameters and
    velocities are updated in place. Returns the mean over the epoch of each example's
    regularised objective l(f(x^(t)), y^(t)) + l2 Omega_2 + l1 Omega_1, measured with the
    parameters before the update it causes (what every epoch of the contract returns).

    for each training example (x^(t), y^(t)), in ``order``:
        Delta = -nabla_theta l(f(x^(t); theta), y^(t)) - lambda nabla_theta Omega(theta)
        theta <- theta + alpha Delta

    ``n_threads`` is checked as the compiled backends check it; the reference computes on one
    thread whatever its value (the serial steps the threaded kernels are tested against).
    """
    e = check_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr, l2, l1,
                    momentum, nesterov, sample_weight, alpha)
    check_threads(n_threads)
    return run_sgd_epoch(e, e.X)


def run_sgd_epoch(e, X):
    """:func:`sgd_epoch` on checked arguments ``e``, the rows read from ``X`` (e.X, or the
    same matrix as a scipy.sparse matrix: the loop only slices rows and multiplies them)."""
    weights, biases, vel_W, vel_b = e.weights, e.biases, e.vel_W, e.vel_b
    Y, act_codes, loss = e.Y, e.activations, e.loss
    lr, l1, momentum, nesterov = e.lr, e.l1, e.momentum, e.nesterov
    total = 0.0
    for t in e.order:
        x, y = X[t:t + 1], Y[t:t + 1]
        hs = _fprop(x, weights, biases, act_codes)              # forward propagation
        f, grad_a = np.empty_like(hs[-1]), np.empty_like(hs[-1])
        value = fused_output(hs[-1], y, loss, f, grad_a)    # nabla_a^(L+1) = -(e(y) - f(x))
        l2 = e.l2 + e.alpha / 2
        if e.sample_weight is not None:                     # the weight cancels but for alpha
            s = e.sample_weight[t]
            if s > 0:
                l2 = e.l2 + e.alpha / (2 * s)
            else:
                value, grad_a, l2 = 0.0, np.zeros_like(grad_a), e.l2
        total += value
        total += penalty(weights, l2, l1)
        grads_W, grads_b = _bprop(hs, grad_a, weights, act_codes)
        for k in range(len(weights)):                           # theta <- theta + alpha Delta
            sgd_step(weights[k], grads_W[k], vel_W[k], lr, l2, l1, momentum, nesterov)
            sgd_step(biases[k], grads_b[k], vel_b[k], lr, 0.0, 0.0, momentum, nesterov)
    return total / max(len(e.order), 1)


def minibatch_sgd_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
                        lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False, batch_size=32,
                        sample_weight=None, alpha=0.0, n_threads=1):
    """One epoch of minibatch SGD: the rows of ``order`` taken ``batch_size`` at a time (the
    last batch may be smaller), each step using the gradient averaged over the batch I_t:
    w_{t+1} = w_t - alpha (1/|I_t|) sum_{i in I_t} nabla_i(w_t) (plus the regulariser's
    gradient, not averaged). Returns the mean per-example objective, as :func:`sgd_epoch`,
    the regulariser taken at the parameters before each batch's step.
    ``n_threads`` is checked as the compiled backends check it; the reference computes on one
    thread whatever its value (the serial steps the threaded kernels are tested against)."""
    e = check_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr, l2, l1,
                    momentum, nesterov, sample_weight, alpha)
    batch_size = check_batch_size(batch_size)
    check_threads(n_threads)
    return run_minibatch_sgd_epoch(e, e.X, batch_size)


def run_minibatch_sgd_epoch(e, X, batch_size):
    """:func:`minibatch_sgd_epoch` on checked arguments ``e``, the rows read from ``X`` (as
    :func:`run_sgd_epoch`)."""
    weights, biases, vel_W, vel_b = e.weights, e.biases, e.vel_W, e.vel_b
    order, act_codes = e.order, e.activations
    lr, l1, momentum, nesterov = e.lr, e.l1, e.momentum, e.nesterov
    total = 0.0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        hs = _fprop(X[rows], weights, biases, act_codes)
        value, grad_a, divisor, l2 = _step_terms(e, rows, *_output(e, rows, hs[-1]))
        total += value
        total += len(rows) * penalty(weights, l2, l1)
        # walk down the layers: pass the gradient below with the weights *before* updating them
        for k in range(len(weights) - 1, -1, -1):
            grad_below = None
            if k:
                grad_below = (grad_a @ weights[k].T) * DERIVATIVE_FUNCTIONS[act_codes[k - 1]](hs[k])
            minibatch_step(weights[k], biases[k], hs[k], grad_a, vel_W[k], vel_b[k],
                           lr, l2, l1, momentum, nesterov, divisor)
            grad_a = grad_below
    return total / max(len(order), 1)


def adam_epoch(X, Y, order, weights, biases, m_W, m_b, v_W, v_b, activations, loss, lr,
               l2=0.0, l1=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, t=0,
               sample_weight=None, alpha=0.0, n_threads=1):
    """One epoch of per-example Adam: for each example in ``order``, backpropagation then one
    :func:`~fastnn.reference.adam_step` of every parameter, the gradient of weights including
    the regulariser's (l2 2W + l1 sign W). Parameters and moments are updated in place; ``t``
    is the number of Adam steps taken before this epoch (the epoch takes ``len(order)``).
    Returns the mean per-example objective, as :func:`sgd_epoch`.
    ``n_threads`` is checked as the compiled backends check it; the reference computes on one
    thread whatever its value (the serial steps the threaded kernels are tested against)."""
    e = check_adam_epoch(X, Y, order, weights, biases, m_W, m_b, v_W, v_b, activations, loss,
                         lr, l2, l1, beta_1, beta_2, epsilon, t, sample_weight, alpha)
    check_threads(n_threads)
    return _adam_epoch(e, 1)


def minibatch_adam_epoch(X, Y, order, weights, biases, m_W, m_b, v_W, v_b, activations, loss,
                         lr, l2=0.0, l1=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, t=0,
                         batch_size=32, sample_weight=None, alpha=0.0, n_threads=1):
    """One epoch of minibatch Adam: :func:`adam_epoch` with the gradient averaged over
    batches of ``batch_size`` rows of ``order`` (the last may be smaller), one step a batch.
    ``n_threads`` is checked as the compiled backends check it; the reference computes on one
    thread whatever its value (the serial steps the threaded kernels are tested against)."""
    e = check_adam_epoch(X, Y, order, weights, biases, m_W, m_b, v_W, v_b, activations, loss,
                         lr, l2, l1, beta_1, beta_2, epsilon, t, sample_weight, alpha)
    batch_size = check_batch_size(batch_size)
    check_threads(n_threads)
    return _adam_epoch(e, batch_size)


def _adam_epoch(e, batch_size):
    total = 0.0
    for step, start in enumerate(range(0, len(e.order), batch_size)):
        rows = e.order[start:start + batch_size]
        hs = _fprop(e.X[rows], e.weights, e.biases, e.activations)
        if batch_size == 1 and e.sample_weight is not None and e.sample_weight[rows[0]] > 0:
            # a per-example step: the weight cancels from the gradient (as in sgd_epoch)
            losses, grad_a = _output(e, rows, hs[-1])
            value, divisor = float(losses[0]), 1
            l2 = e.l2 + e.alpha / (2 * e.sample_weight[rows[0]])
        else:
            value, grad_a, divisor, l2 = _step_terms(e, rows, *_output(e, rows, hs[-1]))
        total += value
        total += len(rows) * penalty(e.weights, l2, e.l1)
        grads_W, grads_b = _bprop(hs, grad_a, e.weights, e.activations)  # before any update
        lr_t = adam_learning_rate(e.lr, e.beta_1, e.beta_2, e.t + step + 1)
        for k, (W, b) in enumerate(zip(e.weights, e.biases)):
            grad_W = grads_W[k] / divisor
            if l2:
                grad_W = grad_W + l2 * l2_grad(W)
            if e.l1:
                grad_W = grad_W + e.l1 * l1_grad(W)
            adam_step(W, grad_W, e.m_W[k], e.v_W[k], lr_t, e.beta_1, e.beta_2, e.epsilon)
            adam_step(b, grads_b[k] / divisor, e.m_b[k], e.v_b[k], lr_t, e.beta_1, e.beta_2,
                      e.epsilon)
    return total / max(len(e.order), 1)


for _epoch in (sgd_epoch, minibatch_sgd_epoch, adam_epoch, minibatch_adam_epoch):
    _epoch.__doc__ += WEIGHTS_DOC
