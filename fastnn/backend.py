"""The backend registry: which implementation of the kernel contract runs.

Every backend is a module providing the same functions with the same arguments and
in-place conventions (``CONTRACT``), for float32 and float64 alike; every one checks its
arguments with :mod:`fastnn._contract`, so a bad call gets the same error from each. Code
holding a backend module names it ``ops``.

========================  ========================================================================
function                  what it computes (outputs written in place)
========================  ========================================================================
activation                out = g(a), element-wise
dense_forward             out = g(h @ W + b)
activation_derivative     out = g'(a) from h = g(a)
output_loss_grad          fused output: f = out_fn(a), grad = dl/da, returns the summed loss
dense_backward_params     grad_W = h^T grad_a, grad_b = sum of rows of grad_a
dense_backward_input      out = (grad_a W^T) * g'(h_in)
dense_update              outer-product SGD step of one layer with L2/L1 and momentum
forward                   the whole network's output f(X)
sgd_epoch                 one epoch of per-example SGD; returns the mean over the examples of
                          l + l2 Omega_2 + l1 Omega_1, each at the parameters before its step
minibatch_sgd_epoch       one epoch of minibatch SGD, returns the same mean
adam_epoch                one epoch of per-example Adam, returns the same mean
minibatch_adam_epoch      one epoch of minibatch Adam, returns the same mean
                          (the four epochs take n_threads: a minibatch epoch splits each
                          batch across the threads, a per-example one runs Hogwild!; the
                          reference computes on one thread)
perceptron_epoch          one epoch of the perceptron algorithm, returns the number of updates
conv2d_forward            out = b + the correlation of images x with W (out, in, kh, kw), the same
                          weights at every position, given stride and zero padding
conv2d_backward_input     out = the gradient with respect to the images of a convolution
conv2d_backward_params    (grad_W, grad_b), summed over the batch and the positions
max_pool2d_forward        out = the maximum of each window of each channel
max_pool2d_backward       out = each window's gradient at its (first) maximum
avg_pool2d_forward        out = the mean of each window of each channel
avg_pool2d_backward       out = each window's gradient shared equally among its entries
loss_gradient             the regularised risk of a whole data set and its gradient (L-BFGS)
sparse_forward            forward with X a scipy.sparse matrix (CSR): the first layer from the
                          nonzeros
sparse_sgd_epoch          sgd_epoch with a sparse X, a step's cost in its nonzeros where the
                          rows of zero inputs can be deferred exactly (no L1); and
                          sparse_minibatch_sgd_epoch, minibatch_sgd_epoch with a sparse X
sparse_perceptron_epoch   perceptron_epoch with a sparse X, over each row's nonzeros
========================  ========================================================================

``"numpy"`` is :mod:`fastnn.reference`, ``"numba"`` is :mod:`fastnn._numba` (compiled at first
use), ``"cython"`` is :mod:`fastnn._cython` (compiled at install); ``"auto"`` picks the fastest
backend that imports.
"""
from __future__ import annotations

import importlib

from ._contract import CONTRACT

# name -> module providing the contract, fastest first (the order "auto" tries them in)
_MODULES = {
    "numba": "fastnn._numba",
    "cython": "fastnn._cython",
    "numpy": "fastnn.reference",
}
_PREFERENCE = ("numba", "cython", "numpy")


_resolved: dict = {}  # name -> module, or the ImportError it raised


def _import(name: str):
    """Import a backend's module once; raise ImportError (remembered) when it cannot."""
    if name not in _resolved:
        try:
            module = importlib.import_module(_MODULES[name])
            missing = [k for k in CONTRACT if not hasattr(module, k)]
            if missing:
                raise ImportError(f"it lacks the contract functions {missing}")
            _resolved[name] = module
        except ImportError as exc:
            _resolved[name] = exc
    found = _resolved[name]
    if isinstance(found, ImportError):
        raise found
    return found


def available_backends() -> list[str]:
    """Names of the backends that import on this machine, fastest first."""
    names = []
    for name in _PREFERENCE:
        try:
            _import(name)
        except ImportError:
            continue
        names.append(name)
    return names


def get_backend(name: str = "auto"):
    """The module implementing the kernel contract for ``name``.

    ``"auto"`` returns the first backend in order of preference that imports. An unknown name
    raises ValueError; a known backend that cannot be imported raises ImportError saying why
    and which backends are available.
    """
    if name == "auto":
        return _import(available_backends()[0])
    if name not in _MODULES:
        raise ValueError(f"unknown backend {name!r}; choose from {['auto', *_MODULES]}")
    try:
        return _import(name)
    except ImportError as exc:
        raise ImportError(f"backend {name!r} is not available on this machine ({exc}); "
                          f"available: {available_backends()}") from exc
