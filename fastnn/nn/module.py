"""The box of the lecture's flow graph: an object with an ``fprop`` and a ``bprop`` method.

"Each box is an object with an fprop method, that outputs the value of the box given its
children"; "each object also has a bprop method: it outputs the gradient of the loss given
each children". A box remembers, during ``fprop``, what its ``bprop`` needs.

Batches hold one example per row: 2-D arrays (n, features) for the dense boxes, 4-D arrays
(n, channels, height, width) for the convolution and pooling boxes; element-wise boxes take
either. Parameter gradients are *added* to ``Parameter.grad`` by every ``bprop`` call and only
cleared by ``zero_grad()``, so that the gradients of several losses or several batches can be
summed before one update.
"""
from __future__ import annotations

import abc

import numpy as np

from .._config import get_config
from .._validation import check_array
from ..backend import get_backend


class Parameter:
    """A trainable array ``value`` and the gradient ``grad`` accumulated for it.

    Parameters
    ----------
    value : ndarray
        The parameter, updated in place by optimisers.
    name : str
        Its name inside its box (``"W"``, ``"b"``).
    decay : bool
        Whether weight decay (L2/L1) applies: True for weights, False for biases -- the
        lecture regularises weights only.
    """

    __slots__ = ("value", "grad", "name", "decay")

    def __init__(self, value, name: str, decay: bool):
        self.value = np.ascontiguousarray(value)
        self.grad = np.zeros_like(self.value)
        self.name = name
        self.decay = bool(decay)

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    def __repr__(self):
        return (f"Parameter({self.name!r}, shape={self.value.shape}, dtype={self.value.dtype}, "
                f"decay={self.decay})")


def float_dtype(dtype) -> np.dtype:
    """``dtype`` (or the configured default when None) as float32 or float64.

    Raises ValueError for any other dtype."""
    dt = np.dtype(get_config()["dtype"] if dtype is None else dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


class Module(abc.ABC):
    """Base of every box: ``fprop`` computes the output from the inputs, ``bprop`` takes the
    gradient of the loss with respect to that output and returns the gradient with respect
    to each input, adding parameter gradients to ``Parameter.grad`` on the way.

    Parameters
    ----------
    backend : str
        Which implementation of the kernel contract computes the box (``"numpy"``,
        ``"numba"``, ``"cython"`` or ``"auto"``, see :func:`fastnn.get_backend`).
    """

    #: number of inputs ``fprop`` takes; None for "one or more" (Add, Concat)
    n_inputs: int | None = 1
    #: True for the loss boxes, which end a graph and cannot sit inside one
    is_loss: bool = False

    def __init__(self, backend: str = "auto"):
        self._params: dict[str, Parameter] = {}
        self._forward = None  # what fprop stored for bprop; None until fprop ran
        self._set_backend(backend)

    # -- the flow-graph interface ---------------------------------------------------------
    @abc.abstractmethod
    def fprop(self, *inputs):
        """The box's output given its inputs (batches, one example per row)."""

    @abc.abstractmethod
    def bprop(self, grad_output):
        """Given the gradient of the loss with respect to the output of the last ``fprop``,
        add the parameter gradients to ``Parameter.grad`` and return the gradient with respect
        to the input (a tuple of gradients, one per input, for boxes with several inputs)."""

    def __call__(self, *inputs, **named):
        return self.fprop(*inputs, **named)

    def infer_width(self, *widths):
        """The output width (number of columns) given the input widths, None when unknown
        (as for images, which have no single width); ValueError when the inputs cannot feed
        this box. Elementwise boxes keep the width."""
        return widths[0]

    # -- parameters ---------------------------------------------------------------------
    def named_children(self) -> list[tuple[str, "Module"]]:
        """The boxes this box is made of, with their names (empty for a single box)."""
        return []

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """Every parameter with a dotted name, e.g. ``"0.W"`` for the weights of box 0."""
        found = list(self._params.items())
        for prefix, child in self.named_children():
            found += [(f"{prefix}.{name}", p) for name, p in child.named_parameters()]
        return found

    def parameters(self) -> list[Parameter]:
        """Every parameter of this box and of the boxes inside it."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter gradient to 0 (they accumulate across ``bprop`` calls until then)."""
        for p in self.parameters():
            p.grad.fill(0)

    def modules(self):
        """This box and, recursively, every box inside it."""
        yield self
        for _, child in self.named_children():
            yield from child.modules()

    def reset_parameters(self, rng=None) -> "Module":
        """Draw every parameter of this box and of the boxes inside it afresh, with the
        initialisation each box was built with, from the NumPy Generator (or seed) ``rng``,
        boxes in the order of :meth:`modules`; gradients are set to 0. Returns self.

        A box without parameters draws nothing; a box with parameters overrides
        :meth:`_reset_own_parameters`."""
        rng = np.random.default_rng(rng)
        for module in self.modules():
            module._reset_own_parameters(rng)
            for p in module._params.values():
                p.grad = np.zeros_like(p.value)
        return self

    def _reset_own_parameters(self, rng) -> None:
        """Draw this box's own parameters (not its children's) from ``rng``; none here."""

    def set_dtype(self, dtype) -> "Module":
        """Hold the parameters of this box and of every box inside it in ``dtype`` (float32
        or float64; values converted, gradients zeroed) and compute in it; returns self."""
        dtype = float_dtype(dtype)
        for module in self.modules():
            if "dtype" in module.__dict__:
                module.dtype = dtype
            for p in module._params.values():
                p.value = np.ascontiguousarray(p.value, dtype=dtype)
                p.grad = np.zeros_like(p.value)
        return self

    def arguments(self) -> dict:
        """The arguments that build this box again (its constructor's, by name, without its
        parameters' values and ``rng``), for :func:`fastnn.nn.describe`; containers describe
        their boxes themselves."""
        return {"backend": self.backend}

    # -- backend ------------------------------------------------------------------------
    def _set_backend(self, name: str) -> None:
        self.ops = get_backend(name)  # unknown or unavailable names fail here, not in fprop
        self.backend = name

    def set_backend(self, name: str) -> "Module":
        """Compute this box and every box inside it with backend ``name``; returns self."""
        get_backend(name)
        for module in self.modules():
            module._set_backend(name)
        return self

    def __getstate__(self):
        # a Python module cannot be pickled: keep the backend's name, resolve it again on load
        state = dict(self.__dict__)
        del state["ops"]
        state["_forward"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._set_backend(self.backend)

    # -- helpers for subclasses -----------------------------------------------------------
    def _saved(self):
        """What fprop stored; RuntimeError when bprop comes before any fprop."""
        if self._forward is None:
            raise RuntimeError(f"bprop of {self!r} called before fprop: run fprop on a batch first")
        return self._forward

    def _as_input(self, x, name: str = "input", dtype=None, ndim: int | None = 2) -> np.ndarray:
        """``x`` as a C-contiguous float batch of ``ndim`` dimensions (2: rows of features, 4:
        images (n, channels, height, width); None: any rank (n, ...), at least 1), in
        ``dtype`` (default: its own float dtype, or the configured dtype for integer input)."""
        x = check_array(f"{type(self).__name__} {name}", x, ndim=ndim)
        if x.ndim == 0:
            raise ValueError(f"{type(self).__name__} {name} must be a batch (n, ...), "
                             f"got a scalar")
        if dtype is None:
            dtype = x.dtype if x.dtype.kind == "f" else float_dtype(None)
        return np.ascontiguousarray(x, dtype=dtype)

    def _as_grad(self, grad, shape, dtype) -> np.ndarray:
        """The incoming gradient, checked to have the shape of the output it belongs to."""
        grad = check_array(f"{type(self).__name__} grad_output", grad)
        if grad.shape != tuple(shape):
            raise ValueError(f"bprop of {self!r}: grad_output has shape {grad.shape}, but fprop "
                             f"returned an output of shape {tuple(shape)}")
        return np.ascontiguousarray(grad, dtype=dtype)

    def _repr_args(self) -> str:
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self._repr_args()})"


def check_box(box, where: str) -> "Module":
    """``box`` if it can sit inside a container; TypeError naming ``where`` otherwise."""
    if isinstance(box, Module) and box.is_loss:
        raise TypeError(f"{where} is the loss {box!r}: apply a loss to the network's output "
                        f"(loss.fprop(net.fprop(x), y)), do not put it inside the network")
    if not isinstance(box, Module):
        raise TypeError(f"{where} must be a fastnn.nn.Module, got {type(box).__name__}")
    return box


def indent(text: str) -> str:
    """Indent every line after the first by two spaces (for nested reprs)."""
    return text.replace("\n", "\n  ")
