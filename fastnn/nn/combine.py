"""Boxes with several inputs, for flow graphs that are not chains: Add and Concat."""
from __future__ import annotations

import numpy as np

from .module import Module


class _Combine(Module):
    """A box taking one or more batches with the same number of rows."""

    n_inputs = None

    def __init__(self, backend: str = "auto"):
        # accepted like every box's, so set_backend and reprs treat all boxes alike; adding and
        # concatenating are plumbing, not lecture formulas, and need no kernel
        super().__init__(backend)

    def _as_inputs(self, inputs):
        if not inputs:
            raise ValueError(f"{self!r} needs at least one input")
        arrays = [self._as_input(x, name=f"input {i}") for i, x in enumerate(inputs)]
        dtype = np.result_type(*arrays)
        rows = {x.shape[0] for x in arrays}
        if len(rows) > 1:
            raise ValueError(f"{self!r}: inputs have different numbers of rows "
                             f"{[x.shape[0] for x in arrays]}")
        return [np.ascontiguousarray(x, dtype=dtype) for x in arrays]

    def _repr_args(self):
        return f"backend={self.backend!r}"


class Add(_Combine):
    """o = h_1 + h_2 + ... (same shapes): a skip connection adds a box's input to its output.
    The gradient of the sum reaches every input unchanged."""

    def infer_width(self, *widths):
        known = {w for w in widths if w is not None}
        if len(known) > 1:
            raise ValueError(f"Add needs inputs of the same width, got widths {list(widths)}")
        return known.pop() if known else None

    def fprop(self, *inputs):
        """The element-wise sum of the inputs."""
        arrays = self._as_inputs(inputs)
        shapes = [x.shape for x in arrays]
        if len(set(shapes)) > 1:
            raise ValueError(f"Add needs inputs of the same shape, got {shapes}")
        out = arrays[0].copy()
        for x in arrays[1:]:
            out += x
        self._forward = (len(arrays), out.shape, out.dtype)
        return out

    def bprop(self, grad_output):
        """One copy of ``grad_output`` per input (a tuple)."""
        n, shape, dtype = self._saved()
        grad = self._as_grad(grad_output, shape, dtype)
        return tuple(grad.copy() for _ in range(n))


class Concat(_Combine):
    """o = [h_1, h_2, ...] side by side (columns concatenated): branches joining again.
    The gradient is split back into the inputs' columns."""

    def infer_width(self, *widths):
        return None if any(w is None for w in widths) else sum(widths)

    def fprop(self, *inputs):
        """The inputs' columns, concatenated in order."""
        arrays = self._as_inputs(inputs)
        out = np.concatenate(arrays, axis=1)
        self._forward = ([x.shape[1] for x in arrays], out.shape, out.dtype)
        return out

    def bprop(self, grad_output):
        """The columns of ``grad_output`` belonging to each input (a tuple)."""
        widths, shape, dtype = self._saved()
        grad = self._as_grad(grad_output, shape, dtype)
        return tuple(np.ascontiguousarray(g)
                     for g in np.split(grad, np.cumsum(widths)[:-1], axis=1))
