"""Small integer codes for activations and output losses.

Kernels choose an activation or a loss by one of these integers, never by receiving a
function: function arguments defeat numba's on-disk cache and cost a call per element.
"""

# hidden (element-wise) activations g(a)
IDENTITY = 0   # g(a) = a                      ("linear" in the lecture)
THRESHOLD = 1  # g(a) = sign(a)                (hard threshold)
LOGISTIC = 2   # g(a) = 1 / (1 + exp(-a))      ("sigm")
TANH = 3       # g(a) = tanh(a)
RELU = 4       # g(a) = max(0, a)              ("relin")

ACTIVATION_CODES = {  # activation name -> code (with the lecture's aliases)
    "identity": IDENTITY,
    "linear": IDENTITY,
    "threshold": THRESHOLD,
    "sign": THRESHOLD,
    "logistic": LOGISTIC,
    "sigmoid": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
}

# output losses, each paired with its output function so that the gradient with respect to
# the output pre-activation has the simple fused form.
SOFTMAX_NLL = 0   # softmax output, -log f(x)_y                       grad: f - e(y)
LOGISTIC_NLL = 1  # logistic output, -[y log f + (1-y) log(1-f)]      grad: f - y
SQUARED = 2       # identity output, |y - f(x)|^2                     grad: 2 (f - y)
HALF_SQUARED = 3  # identity output, |y - f(x)|^2 / 2                 grad: f - y
POISSON = 4       # exp output, half Poisson deviance (y >= 0)        grad: f - y
#                   sum_j y_j log(y_j / f_j) - y_j + f_j  (y log y = 0 at y = 0)

LOSS_CODES = {  # output loss name -> code
    "softmax_nll": SOFTMAX_NLL,
    "logistic_nll": LOGISTIC_NLL,
    "squared": SQUARED,
    "half_squared": HALF_SQUARED,
    "poisson": POISSON,
}


# the pooling of a conv block, in the fused convolutional epochs
NO_POOL = 0
MAX_POOL = 1
AVG_POOL = 2


def _code(kind: str, table: dict, name_or_code) -> int:
    """The code of a ``kind`` given by name (case-insensitive) or by code; ValueError if unknown."""
    if isinstance(name_or_code, str):
        key = name_or_code.lower()
        if key not in table:
            raise ValueError(f"unknown {kind} {name_or_code!r}; choose from {sorted(table)}")
        return table[key]
    try:
        known = not isinstance(name_or_code, bool) and name_or_code in set(table.values())
    except TypeError:  # unhashable: not a code
        known = False
    if not known:
        raise ValueError(f"unknown {kind} code {name_or_code!r}")
    return int(name_or_code)


def activation_code(name_or_code) -> int:
    """The code of an activation given by name or code; ValueError if unknown."""
    return _code("activation", ACTIVATION_CODES, name_or_code)


def loss_code(name_or_code) -> int:
    """The code of an output loss given by name or code; ValueError if unknown."""
    return _code("loss", LOSS_CODES, name_or_code)
