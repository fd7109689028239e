"""The backend registry: which implementation of the kernel contract runs.

Every backend is a module providing the same functions with the same arguments and
in-place conventions (see ``KERNELS``), for float32 and float64 alike:

=====================  ==========================================================================
kernel                 what it computes (arrays C-contiguous, one dtype; outputs written in place)
=====================  ==========================================================================
dense_forward          out = g(h @ W + b)
activation_derivative  out = g'(a) from h = g(a)
output_loss_grad       fused output: f = out_fn(a), grad = dl/da, returns the summed loss
dense_backward_params  grad_W = h^T grad_a, grad_b = sum of rows of grad_a
dense_backward_input   out = (grad_a W^T) * g'(h_in)
dense_update           outer-product SGD step of one layer with L2/L1 and momentum
forward                the whole network's output f(X)
sgd_epoch              one epoch of per-example SGD, returns the mean loss
minibatch_sgd_epoch    one epoch of minibatch SGD, returns the mean loss
perceptron_epoch       one epoch of the perceptron algorithm, returns the number of updates
=====================  ==========================================================================

``"numpy"`` is :mod:`fastnn.reference`; ``"auto"`` picks the fastest backend available.
"""
from __future__ import annotations

import importlib

KERNELS = (
    "dense_forward", "activation_derivative", "output_loss_grad", "dense_backward_params",
    "dense_backward_input", "dense_update", "forward", "sgd_epoch", "minibatch_sgd_epoch",
    "perceptron_epoch",
)

# name -> module providing the contract, fastest first (the order "auto" tries them in)
_MODULES = {
    "numpy": "fastnn.reference",
}
_PREFERENCE = ("numpy",)


def available_backends() -> list[str]:
    """Names of the backends that import on this machine, fastest first."""
    names = []
    for name in _PREFERENCE:
        try:
            get_backend(name)
        except ImportError:
            continue
        names.append(name)
    return names


def get_backend(name: str = "auto"):
    """The module implementing the kernel contract for ``name``.

    ``"auto"`` returns the first backend in order of preference that imports. An unknown name
    raises ValueError; a known backend that cannot be imported raises ImportError saying why.
    """
    if name == "auto":
        for candidate in _PREFERENCE:
            try:
                return get_backend(candidate)
            except ImportError:
                continue
        raise ImportError("no fastnn backend could be imported")
    if name not in _MODULES:
        raise ValueError(f"unknown backend {name!r}; choose from {['auto', *_MODULES]}")
    module = importlib.import_module(_MODULES[name])
    missing = [k for k in KERNELS if not hasattr(module, k)]
    if missing:
        raise ImportError(f"backend {name!r} lacks kernels {missing}")
    return module
