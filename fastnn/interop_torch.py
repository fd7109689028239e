"""Move a chain of boxes between fastnn's flow graph and PyTorch, weights included.

A :class:`fastnn.nn.Sequential` of ``Linear`` boxes and the activation boxes ``Identity``,
``Sigmoid``, ``Tanh``, ``ReLU`` and ``Softmax`` (and Sequentials of them) becomes the
``torch.nn.Sequential`` of the same modules, and back. fastnn stores a dense layer's weights
input-major, ``W`` of shape (n_in, n_out), computing a = h W + b; ``torch.nn.Linear`` stores
them output-major, ``weight`` of shape (out, in), computing h weight^T + bias: the weights are
transposed on the way, so both compute the same function. The arrays are copied, never shared.

PyTorch is an optional dependency, imported when a function is called.
"""
from __future__ import annotations

import numpy as np

from . import nn
from .nn.module import float_dtype

_SUPPORTED = "Linear, Identity, Sigmoid, Tanh, ReLU, Softmax and Sequential"
_ELEMENTWISE = ("Identity", "Sigmoid", "Tanh", "ReLU")


def to_torch(module):
    """The PyTorch module computing what the fastnn box ``module`` computes.

    Parameters
    ----------
    module : fastnn.nn.Module
        A :class:`~fastnn.nn.Sequential` (possibly nested) of ``Linear``, ``Identity``,
        ``Sigmoid``, ``Tanh``, ``ReLU`` and ``Softmax`` boxes, or one such box.

    Returns
    -------
    torch.nn.Module
        ``torch.nn.Sequential`` for a Sequential, else the matching module:
        ``torch.nn.Linear`` (``weight`` = W^T, ``bias`` = b, in W's dtype), ``torch.nn.Identity``,
        ``Sigmoid``, ``Tanh``, ``ReLU`` or ``Softmax(dim=1)``. Its parameters are copies.

    Raises
    ------
    TypeError
        Naming the first box that has no PyTorch counterpart (e.g. ``Threshold``, whose sign
        function is not a torch module, or a ``Graph``).
    """
    import torch

    if isinstance(module, nn.Sequential):
        return torch.nn.Sequential(*(to_torch(box) for box in module))
    if isinstance(module, nn.Linear):
        linear = torch.nn.Linear(module.n_in, module.n_out,
                                 dtype=getattr(torch, module.dtype.name))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(module.W.value.T)))
            linear.bias.copy_(torch.from_numpy(module.b.value.copy()))
        return linear
    if isinstance(module, nn.Softmax):
        return torch.nn.Softmax(dim=1)
    # exact types: a subclass may compute something else
    name = {getattr(nn, n): n for n in _ELEMENTWISE}.get(type(module))
    if name is not None:
        return getattr(torch.nn, name)()
    raise TypeError(f"to_torch: the fastnn box {module!r} has no PyTorch counterpart; "
                    f"it converts {_SUPPORTED} boxes")


def from_torch(torch_module, dtype=None, backend="auto"):
    """The fastnn box computing what the PyTorch module ``torch_module`` computes.

    Parameters
    ----------
    torch_module : torch.nn.Module
        A ``torch.nn.Sequential`` (possibly nested) of ``Linear`` (with or without bias),
        ``Identity``, ``Sigmoid``, ``Tanh``, ``ReLU`` and ``Softmax`` over dim 1 (or -1)
        modules, or one such module.
    dtype : float32 or float64, optional
        The dtype of the weights; None takes the dtype of the module's first parameter (the
        configured default when it has none).
    backend : str, default="auto"
        The backend computing every box (see :func:`fastnn.get_backend`).

    Returns
    -------
    fastnn.nn.Module
        A :class:`~fastnn.nn.Sequential` for a ``torch.nn.Sequential``, else the matching box;
        a ``Linear`` has ``W`` = weight^T and ``b`` = bias (zeros without one), copies.

    Raises
    ------
    TypeError
        Naming the first module that has no fastnn counterpart (a convolution, a dropout, ...).
    ValueError
        For a ``Softmax`` over another dimension than 1.
    """
    import torch

    if dtype is None:
        first = next(iter(torch_module.parameters()), None)
        dtype = None if first is None else str(first.dtype).removeprefix("torch.")
    dtype = float_dtype(dtype)
    if isinstance(torch_module, torch.nn.Sequential):
        return nn.Sequential(*(from_torch(m, dtype, backend) for m in torch_module))
    if isinstance(torch_module, torch.nn.Linear):
        weight = torch_module.weight.detach().cpu().numpy().T.astype(dtype)
        box = nn.Linear(torch_module.in_features, torch_module.out_features,
                        init=lambda n_in, n_out, rng, dt: weight, dtype=dtype, backend=backend)
        if torch_module.bias is not None:
            box.b.value[...] = torch_module.bias.detach().cpu().numpy()
        return box
    if isinstance(torch_module, torch.nn.Softmax):
        if torch_module.dim not in (1, -1):
            raise ValueError(f"from_torch: fastnn's Softmax normalises each row (dim=1), got "
                             f"{torch_module!r}")
        return nn.Softmax(backend=backend)
    name = {getattr(torch.nn, n): n for n in _ELEMENTWISE}.get(type(torch_module))
    if name is not None:
        return getattr(nn, name)(backend=backend)
    raise TypeError(f"from_torch: the PyTorch module {torch_module!r} has no fastnn "
                    f"counterpart; it converts {_SUPPORTED} modules")
