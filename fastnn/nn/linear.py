"""The dense (fully connected) box: a = b + W h, with parameters W and b."""
from __future__ import annotations

import numpy as np

from .. import codes
from ..init import get_initializer, zeros
from .module import Module, Parameter, float_dtype


class Linear(Module):
    """Neuron pre-activation for a batch of rows, a = h W + b (the lecture's a(x) = b + W h,
    with W stored input-major: shape (n_in, n_out), the transpose of the lecture's W^(k)).

    Computed by the backend's ``dense_forward`` (with the identity activation),
    ``dense_backward_params`` and ``dense_backward_input``.

    Parameters
    ----------
    n_in, n_out : int
        Number of inputs H_{k-1} and of units H_k.
    init : str or callable
        Weight initialisation, a name of :data:`fastnn.init.INITIALIZERS` (default
        ``"glorot_uniform"``) or a callable ``(n_in, n_out, rng, dtype) -> array``.
        Biases always start at 0.
    rng : int, numpy.random.Generator or None
        Seed or Generator for the initialisation.
    dtype : float32 or float64, optional
        Dtype of the parameters (default: the configured dtype). Inputs are converted to it.
    backend : str
        Backend computing the box (see :class:`Module`).

    Attributes
    ----------
    W, b : Parameter
        Weights (regularised by weight decay) and biases (never regularised).
    """

    def __init__(self, n_in: int, n_out: int, init="glorot_uniform", rng=None, dtype=None,
                 backend: str = "auto"):
        for name, n in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Linear {name} must be a positive integer, got {n!r}")
        get_initializer(init)  # an unknown name fails here
        super().__init__(backend)
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.init = init
        self.dtype = float_dtype(dtype)
        self.W = Parameter(self._draw_weights(np.random.default_rng(rng)), "W", decay=True)
        self.b = Parameter(zeros(self.n_out, self.dtype), "b", decay=False)
        self._params = {"W": self.W, "b": self.b}

    def _draw_weights(self, rng):
        W = np.asarray(get_initializer(self.init)(self.n_in, self.n_out, rng, self.dtype))
        if W.shape != (self.n_in, self.n_out):
            raise ValueError(f"the initialiser returned weights of shape {W.shape}, "
                             f"expected ({self.n_in}, {self.n_out})")
        return W.astype(self.dtype, copy=True)

    def _reset_own_parameters(self, rng):
        """W drawn again by ``init`` from ``rng``, b back to 0."""
        self.W.value = self._draw_weights(rng)
        self.b.value = zeros(self.n_out, self.dtype)

    def arguments(self):
        return {"n_in": self.n_in, "n_out": self.n_out, "init": self.init,
                "dtype": self.dtype.name, "backend": self.backend}

    def infer_width(self, width):
        if width is not None and width != self.n_in:
            raise ValueError(f"{self!r} expects {self.n_in} inputs but receives {width}")
        return self.n_out

    def fprop(self, h):
        """a = h W + b for the batch ``h`` (n, n_in); remembers ``h`` for bprop."""
        h = self._as_input(h, dtype=self.dtype)
        if h.shape[1] != self.n_in:
            raise ValueError(f"{self!r} expects inputs with {self.n_in} columns, "
                             f"got shape {h.shape}")
        a = np.empty((h.shape[0], self.n_out), dtype=self.dtype)
        self.ops.dense_forward(h, self.W.value, self.b.value, codes.IDENTITY, a)
        self._forward = h
        return a

    def bprop(self, grad_a):
        """nabla_W += h^T nabla_a ; nabla_b += sum of the rows of nabla_a ; returns
        nabla_h = nabla_a W^T (the lecture's W^T nabla_a)."""
        h = self._saved()
        grad_a = self._as_grad(grad_a, (h.shape[0], self.n_out), self.dtype)
        grad_W = np.empty_like(self.W.value)
        grad_b = np.empty_like(self.b.value)
        self.ops.dense_backward_params(grad_a, h, grad_W, grad_b)
        self.W.grad += grad_W
        self.b.grad += grad_b
        grad_h = np.empty_like(h)
        # the identity's derivative is 1: the kernel returns nabla_h itself
        self.ops.dense_backward_input(grad_a, self.W.value, h, codes.IDENTITY, grad_h)
        return grad_h

    def _repr_args(self):
        return f"n_in={self.n_in}, n_out={self.n_out}, dtype={self.dtype}, backend={self.backend!r}"
