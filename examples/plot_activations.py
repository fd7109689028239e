"""
Activation functions and their derivatives
==========================================

An artificial neuron computes its pre-activation :math:`a(x) = b + w^\\top x` and outputs
:math:`h(x) = g(a(x))`. The lecture's activations are the linear unit, the hard threshold,
the logistic sigmoid, the hyperbolic tangent and the rectified linear unit.

Backpropagation needs :math:`g'(a)`, and for each of these it can be written from the
output :math:`h = g(a)` alone: :math:`\\mathrm{sigm}' = h(1-h)`, :math:`\\tanh' = 1-h^2`,
:math:`\\mathrm{relin}' = 1_{a>0}`. The dashed curves below are computed that way, by
:func:`fastnn.reference.activation_derivative`. The threshold's derivative is zero almost
everywhere: no gradient flows through it, which is why the perceptron has its own learning
rule and a multilayer network uses smooth units.
"""
import matplotlib.pyplot as plt
import numpy as np

from fastnn import plotting
from fastnn import reference as R

fig, axes = plt.subplots(1, len(plotting.ACTIVATION_NAMES), figsize=(16, 3.4), sharey=True)
for ax, name in zip(axes, plotting.ACTIVATION_NAMES):
    plotting.plot_activations([name], ax=ax, a_range=(-4, 4))
    ax.set_ylim(-1.6, 2.6)
    ax.set_title(name)
    ax.label_outer()
fig.tight_layout()

# %%
# The numbers behind the curves, at a few pre-activations:
a = np.array([-2.0, 0.0, 2.0])
header = ["g(-2)", "g(0)", "g(2)", "g'(-2)", "g'(0)", "g'(2)"]
print(f"{'activation':>10} | " + " ".join(f"{c:>7}" for c in header[:3]) + " | "
      + " ".join(f"{c:>7}" for c in header[3:]))
for name in plotting.ACTIVATION_NAMES:
    h = R.activation(a, name)
    d = R.activation_derivative(h, name)
    print(f"{name:>10} | " + " ".join(f"{v:7.3f}" for v in h)
          + " | " + " ".join(f"{v:7.3f}" for v in d))

# %%
# The sigmoid's slope is at most 1/4 and the tanh's at most 1: stacking many saturated
# sigmoid layers shrinks the gradient geometrically, one reason tanh and ReLU train deeper
# networks more easily.
plt.show()
