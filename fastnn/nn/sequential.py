"""A chain of boxes: forward propagation is fprop box after box, backpropagation is bprop in
the reverse order."""
from __future__ import annotations

from .module import Module, check_box, indent


class Sequential(Module):
    """Boxes applied one after the other, each taking the previous box's output.

    The widths of consecutive boxes are checked when the chain is built: a ``Linear(5, 3)``
    after a ``Linear(4, 8)`` raises ValueError naming both. A box may appear only once (it
    remembers its own fprop for its bprop).

    Parameters
    ----------
    *boxes : Module
        The boxes in forward order; each takes one input.
    """

    def __init__(self, *boxes):
        if not boxes:
            raise ValueError("Sequential needs at least one box")
        seen = set()
        for i, box in enumerate(boxes):
            check_box(box, f"box {i}")
            if box.n_inputs != 1:
                raise ValueError(f"box {i} ({box!r}) takes several inputs: use a Graph to feed it")
            if id(box) in seen:
                raise ValueError(f"box {i} ({box!r}) appears twice; create a second box instead")
            seen.add(id(box))
        self.boxes = list(boxes)
        backends = {box.backend for box in self.boxes}
        super().__init__(backends.pop() if len(backends) == 1 else "auto")
        self.infer_width(None)

    def infer_width(self, width):
        previous = None
        for i, box in enumerate(self.boxes):
            try:
                width = box.infer_width(width)
            except ValueError as exc:
                after = f"after box {i - 1} ({previous!r})" if i else "as its input"
                raise ValueError(f"widths do not chain: box {i} ({box!r}) {after}: {exc}") from None
            previous = box
        return width

    def named_children(self):
        return [(str(i), box) for i, box in enumerate(self.boxes)]

    def fprop(self, x):
        """Forward propagation: h^(k) = box_k.fprop(h^(k-1)), returns the last box's output."""
        for box in self.boxes:
            x = box.fprop(x)
        self._forward = True
        return x

    def bprop(self, grad_output):
        """Backpropagation: bprop of every box in the reverse order; returns the gradient
        with respect to the chain's input."""
        self._saved()
        for box in reversed(self.boxes):
            grad_output = box.bprop(grad_output)
        return grad_output

    def __len__(self):
        return len(self.boxes)

    def __getitem__(self, i):
        return self.boxes[i]

    def __iter__(self):
        return iter(self.boxes)

    def __repr__(self):
        lines = "".join(f"\n  ({i}): {indent(repr(box))}" for i, box in enumerate(self.boxes))
        return f"Sequential({lines}\n)"
