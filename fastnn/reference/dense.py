"""A dense (fully connected) layer, forward and backward, and its parameter update.

Weights are stored input-major: ``W`` has shape (n_in, n_out), the transpose of the
lecture's W^(k), so that a batch of rows ``h`` (n, n_in) maps to ``h @ W``.
"""
from __future__ import annotations

from .._validation import check_array
from .activations import activation, activation_derivative
from .regularization import l1_grad, l2_grad


def check_layer(h, W, b, parameters_finite=True):
    """Check a layer's input ``h`` (n, n_in), weights ``W`` (n_in, n_out) and biases ``b``
    (n_out,): numeric, of those dimensions, shapes that chain, ``h`` finite (and ``W``, ``b``
    too with ``parameters_finite``; a compiled backend skips that scan, which would cost more
    than a one-row forward pass). Returns them as arrays; ValueError naming the problem."""
    h = check_array("h", h, ndim=2)
    W = check_array("W", W, ndim=2, finite=parameters_finite)
    b = check_array("b", b, ndim=1, finite=parameters_finite)
    if h.shape[1] != W.shape[0]:
        raise ValueError(f"h has {h.shape[1]} columns but W has {W.shape[0]} rows (inputs)")
    if b.shape[0] != W.shape[1]:
        raise ValueError(f"b has {b.shape[0]} entries but W has {W.shape[1]} columns (units)")
    return h, W, b


def pre_activation(h, W, b):
    """Neuron input activation a(x) = b + W h, for a batch of rows: a = h @ W + b."""
    h, W, b = check_layer(h, W, b)
    return h @ W + b


def dense_forward(h, W, b, activation_code, out=None):
    """Dense layer in one pass: a = b + W h ; h' = g(a). Written into ``out`` when given."""
    h_next = activation(pre_activation(h, W, b), activation_code)
    if out is None:
        return h_next
    out[...] = h_next
    return out


def dense_backward_params(grad_a, h_in, grad_W=None, grad_b=None):
    """Parameter gradients of a dense layer, summed over the rows of the batch:
    nabla_W = (nabla_a) h^T  (input-major: h_in^T @ grad_a) ; nabla_b = nabla_a."""
    grad_a = check_array("grad_a", grad_a, ndim=2)
    h_in = check_array("h_in", h_in, ndim=2)
    if grad_a.shape[0] != h_in.shape[0]:
        raise ValueError(f"grad_a has {grad_a.shape[0]} rows but h_in has {h_in.shape[0]}")
    gW = h_in.T @ grad_a
    gb = grad_a.sum(axis=0)
    if grad_W is None:
        return gW, gb
    grad_W[...] = gW
    grad_b[...] = gb
    return grad_W, grad_b


def dense_backward_input(grad_a, W, h_in, activation_in, out=None):
    """Gradient passed to the layer below, before its activation:
    nabla_h = W^T nabla_a ; nabla_a_below = nabla_h (element-wise) g'(a_below),
    with g' computed from the layer below's output ``h_in``. With ``activation_in`` the
    identity this is nabla_h itself (the gradient with respect to the layer's input)."""
    grad_a = check_array("grad_a", grad_a, ndim=2)
    W = check_array("W", W, ndim=2)
    h_in = check_array("h_in", h_in, ndim=2)
    if grad_a.shape[1] != W.shape[1] or h_in.shape[1] != W.shape[0]:
        raise ValueError(f"shapes do not chain: grad_a {grad_a.shape}, W {W.shape}, h_in {h_in.shape}")
    grad_h = grad_a @ W.T
    g = grad_h * activation_derivative(h_in, activation_in)
    if out is None:
        return g
    out[...] = g
    return out


def sgd_step(param, grad, velocity, lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """One SGD step on ``param`` in place, with weight decay and momentum.

    Delta = -grad - l2 * 2 param - l1 * sign(param)   (the lecture's -nabla l - lambda nabla Omega)
    v <- momentum * v + lr * Delta
    param <- param + v                                 (classical momentum)
    param <- param + momentum * v + lr * Delta         (Nesterov, Sutskever's form)

    With momentum 0 both reduce to the lecture's theta <- theta + alpha Delta.
    Pass l2 = l1 = 0 for biases: regularisation applies to weights only.
    """
    delta = -grad
    if l2:
        delta = delta - l2 * l2_grad(param)
    if l1:
        delta = delta - l1 * l1_grad(param)
    velocity *= momentum
    velocity += lr * delta
    if nesterov:
        param += momentum * velocity + lr * delta
    else:
        param += velocity


def dense_update(W, b, h_in, grad_a, vel_W, vel_b, lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """Outer-product update of one dense layer, in place, the gradient averaged over the rows:
    W <- W - lr (mean_t h_t (nabla a_t)^T + l2 2W + l1 sign W) ; b <- b - lr mean_t nabla a_t
    (with momentum as in :func:`sgd_step`)."""
    n = grad_a.shape[0]
    grad_W, grad_b = dense_backward_params(grad_a, h_in)
    sgd_step(W, grad_W / n, vel_W, lr, l2, l1, momentum, nesterov)
    sgd_step(b, grad_b / n, vel_b, lr, 0.0, 0.0, momentum, nesterov)

