"""Rosenblatt's perceptron algorithm, compiled: one epoch in one call."""
from ._jit import jit


@jit
def perceptron_epoch_kernel(X, y, w, b):
    """One pass over the rows of X, in place on w and b[0]:
    if y_i (<w, X_i> + b) <= 0 then w <- w + y_i X_i and b <- b + y_i.
    Returns the number of updates."""
    updates = 0
    zero = type(b[0])(0)
    for i in range(X.shape[0]):
        x = X[i]
        s = zero
        for j in range(x.shape[0]):
            s += x[j] * w[j]
        if y[i] * (s + b[0]) <= zero:
            for j in range(x.shape[0]):
                w[j] += y[i] * x[j]
            b[0] += y[i]
            updates += 1
    return updates
