"""Export a fitted fastnn estimator as an ONNX graph, for onnxruntime and any other ONNX runtime.

The graph is the network's forward propagation written with ONNX operators: a = h W + b is a
``MatMul`` and an ``Add`` per layer, each hidden activation its operator (``Relu``, ``Tanh``,
``Sigmoid``, ``Identity``), the output unit ``Softmax``, ``Sigmoid``, ``Identity`` or ``Exp``.
A :class:`~fastnn.NetClassifier` or :class:`~fastnn.NetRegressor` is written box by box
(:func:`_write_module`): ``Linear`` as ``MatMul`` and ``Add``, the activation boxes as their
operators (``Threshold`` as ``Sign``), ``Softmax``, ``Conv2d`` as ``Conv``, ``MaxPool2d`` and
``AvgPool2d`` as ``MaxPool`` and ``AveragePool``, ``Flatten``, ``Reshape``, ``Add`` as
``Sum`` and ``Concat``, through any ``Sequential`` or ``Graph``; then the output function.
Outputs are named as scikit-learn's converters (skl2onnx) name them:

* classifiers: ``"label"``, the class ``predict`` returns (int64 or string; for multilabel
  targets the (n, n_labels) int64 0/1 matrix), and ``"probabilities"``, the float tensor
  ``predict_proba`` returns (n, n_classes). The perceptron has no probabilities: its second
  output is ``decision_function`` in the same (n, n_classes) layout, (-s, s) for two classes,
  as skl2onnx does for linear classifiers without ``predict_proba``;
* regressors: ``"variable"``, the predictions as an (n, n_outputs) tensor.

:func:`register_skl2onnx` teaches skl2onnx the same graphs, so that a scikit-learn pipeline
holding a fastnn estimator converts with ``skl2onnx.to_onnx``. ``onnx`` (and ``skl2onnx`` for
the pipelines) are optional dependencies: ``pip install "fastnn[onnx]"``.
"""
from __future__ import annotations

import numpy as np

#: The opset used when ``target_opset`` is None (onnxruntime >= 1.17 runs it).
DEFAULT_OPSET = 17
#: The oldest opset whose operators the graphs use (Softmax over one axis, ArgMax-13).
MIN_OPSET = 13

_HIDDEN_OPS = {"identity": "Identity", "logistic": "Sigmoid", "sigmoid": "Sigmoid",
               "tanh": "Tanh", "relu": "Relu"}
_OUTPUT_OPS = {"softmax": "Softmax", "logistic": "Sigmoid", "identity": "Identity",
               "exp": "Exp"}


class _Graph:
    """The nodes and constants of a graph being written, in a form both :func:`to_onnx` and a
    skl2onnx converter can turn into theirs.

    Parameters
    ----------
    unique : callable
        ``unique(hint)`` returns a name not used yet in the graph.
    dtype : numpy dtype
        float32 or float64: the dtype of the input, the weights and the float outputs.
    """

    def __init__(self, unique, dtype):
        self.unique = unique
        self.dtype = np.dtype(dtype)
        self.nodes = []       # (op_type, inputs, output, attributes)
        self.constants = []   # (name, ndarray)

    def constant(self, hint, value):
        """A constant tensor ``value`` (already of its final dtype); returns its name."""
        name = self.unique(hint)
        self.constants.append((name, np.asarray(value)))
        return name

    def add(self, op_type, inputs, output=None, **attributes):
        """A node ``op_type`` on the named ``inputs``; returns the name of its output (a new
        one unless ``output`` is given)."""
        output = output or self.unique(op_type.lower())
        self.nodes.append((op_type, list(inputs), output, attributes))
        return output


def _label_table(classes):
    """The classes as a constant for ``Gather``: int64 for integer labels, else strings."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64)
    if classes.dtype.kind in "US" or all(isinstance(c, str) for c in classes):
        return classes.astype(str).astype(object)
    raise ValueError(f"ONNX labels are integers or strings; the model's classes_ have dtype "
                     f"{classes.dtype}")


def _kind(model):
    """"perceptron", "classifier" or "regressor", or TypeError for anything else."""
    from .estimators import (
        LogisticRegression,
        MLPClassifier,
        MLPRegressor,
        NetClassifier,
        NetRegressor,
        Perceptron,
    )

    if isinstance(model, Perceptron):
        return "perceptron"
    if isinstance(model, (MLPClassifier, LogisticRegression, NetClassifier)):
        return "classifier"
    if isinstance(model, (MLPRegressor, NetRegressor)):
        return "regressor"
    raise TypeError(f"to_onnx converts fastnn's MLPClassifier, MLPRegressor, "
                    f"LogisticRegression, Perceptron, NetClassifier and NetRegressor, not "
                    f"{type(model).__name__}")


_BOX_OPS = {"Identity": "Identity", "Threshold": "Sign", "Sigmoid": "Sigmoid",
            "Tanh": "Tanh", "ReLU": "Relu", "Flatten": "Flatten"}


def _write_module(graph, module, inputs):
    """Write the nodes of the flow graph ``module`` reading the tensors named ``inputs``;
    returns the name of its output. TypeError for a box that has no ONNX form here."""
    from . import nn

    kind, dtype = type(module), graph.dtype
    (x, *_) = inputs
    if kind is nn.Sequential:
        for box in module:
            x = _write_module(graph, box, [x])
        return x
    if kind is nn.Graph:
        values = dict(zip(module.inputs, inputs))
        for name in module.order:
            values[name] = _write_module(graph, module.boxes[name],
                                         [values[p] for p in module.parents[name]])
        return values[module.output]
    if kind is nn.Linear:
        product = graph.add("MatMul", [x, graph.constant("coefficient",
                                                         module.W.value.astype(dtype))])
        return graph.add("Add", [product, graph.constant("intercept",
                                                         module.b.value.astype(dtype))])
    if kind is nn.Conv2d:
        p = module.padding
        return graph.add("Conv", [x, graph.constant("filters", module.W.value.astype(dtype)),
                                  graph.constant("bias", module.b.value.astype(dtype))],
                         kernel_shape=list(module.kernel_size), strides=[module.stride] * 2,
                         pads=[p, p, p, p])
    if kind in (nn.MaxPool2d, nn.AvgPool2d):
        return graph.add("MaxPool" if kind is nn.MaxPool2d else "AveragePool", [x],
                         kernel_shape=list(module.kernel_size), strides=[module.stride] * 2)
    if kind is nn.Reshape:
        shape = graph.constant("shape", np.array([-1, *module.shape], np.int64))
        return graph.add("Reshape", [x, shape])
    if kind is nn.Softmax:
        return graph.add("Softmax", [x], axis=1)
    if kind is nn.Add:
        return graph.add("Sum", list(inputs))
    if kind is nn.Concat:
        return graph.add("Concat", list(inputs), axis=1)
    if kind.__name__ in _BOX_OPS and kind is getattr(nn, kind.__name__):
        return graph.add(_BOX_OPS[kind.__name__], [x], **({"axis": 1} if kind is nn.Flatten
                                                           else {}))
    raise TypeError(f"{module!r} has no ONNX form: to_onnx writes fastnn's built-in boxes only")


def _score_columns(model):
    """The number of columns of the last layer's output (of the perceptrons' scores)."""
    return model.coef_.shape[0] if _kind(model) == "perceptron" else model.n_outputs_


def _output_names(model):
    """The names of the graph's outputs, in order."""
    return ["variable"] if _kind(model) == "regressor" else ["label", "probabilities"]


def _output_shapes(model):
    """The shape of each output, None for the number of rows: {name: shape}."""
    kind = _kind(model)
    if kind == "regressor":
        return {"variable": [None, model.n_outputs_]}
    if kind == "classifier" and model._multilabel:
        n = len(model.classes_)
        return {"label": [None, n], "probabilities": [None, n]}
    # one output column (two classes, or the single class of a one-class fit) gives two
    # probability columns, as predict_proba does
    return {"label": [None], "probabilities": [None, max(_score_columns(model), 2)]}


def _label_dtype(model):
    """numpy dtype of the "label" output: int64 or object (strings)."""
    if _kind(model) == "classifier" and model._multilabel:
        return np.dtype(np.int64)
    return _label_table(model.classes_).dtype


def _write_graph(model, graph, X, outputs):
    """Write the nodes computing ``model``'s outputs from the input named ``X`` into
    ``graph``; ``outputs`` maps each name of :func:`_output_names` to the name its tensor
    must have."""
    from onnx import TensorProto

    dtype = graph.dtype
    kind = _kind(model)

    def dense(h, W, b, k):
        product = graph.add("MatMul", [h, graph.constant(f"coefficient{k}", W.astype(dtype))])
        return graph.add("Add", [product, graph.constant(f"intercept{k}", b.astype(dtype))])

    if kind == "perceptron":
        a = dense(X, model.coef_.T, model.intercept_, 0)
        out, threshold = a, 0.0
    else:
        if hasattr(model, "module_"):
            a = _write_module(graph, model.module_, [X])
        else:
            h = X
            hidden = _HIDDEN_OPS[getattr(model, "activation", "identity")]
            last = len(model.coefs_) - 1
            for k, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
                a = dense(h, W, b, k)
                h = graph.add(hidden, [a]) if k < last else a
        op = _OUTPUT_OPS[model.out_activation_]
        if kind == "regressor":
            graph.add(op, [a], output=outputs["variable"])
            return
        attributes = {"axis": 1} if op == "Softmax" else {}
        out, threshold = graph.add(op, [a], **attributes), 0.5

    if kind == "classifier" and model._multilabel:
        graph.add("Identity", [out], output=outputs["probabilities"])
        above = graph.add("Greater", [out, graph.constant("half", np.array(0.5, dtype))])
        graph.add("Cast", [above], output=outputs["label"], to=TensorProto.INT64)
        return
    table = _label_table(model.classes_)
    if _score_columns(model) == 1:
        # one column s: label classes_[s > threshold], second output (1 - p, p) or (-s, s)
        if kind == "perceptron":
            other = graph.add("Neg", [out])
        else:
            other = graph.add("Sub", [graph.constant("one", np.array(1, dtype)), out])
        graph.add("Concat", [other, out], output=outputs["probabilities"], axis=1)
        above = graph.add("Greater", [out, graph.constant("threshold",
                                                          np.array(threshold, dtype))])
        index = graph.add("Reshape", [graph.add("Cast", [above], to=TensorProto.INT64),
                                      graph.constant("rows", np.array([-1], np.int64))])
        # a one-class fit has a single class: both indices name it
        table = table[[0, -1]]
    else:
        graph.add("Identity", [out], output=outputs["probabilities"])
        index = graph.add("ArgMax", [out], axis=1, keepdims=0)
    graph.add("Gather", [graph.constant("classes", table), index], output=outputs["label"])


def _check_opset(target_opset):
    if target_opset is None:
        return DEFAULT_OPSET
    if int(target_opset) < MIN_OPSET:
        raise ValueError(f"target_opset must be at least {MIN_OPSET}, got {target_opset}")
    return int(target_opset)


def to_onnx(model, X_sample, *, target_opset=None):
    """The ONNX graph of a fitted fastnn estimator.

    Parameters
    ----------
    model : MLPClassifier, MLPRegressor, LogisticRegression, Perceptron, NetClassifier or \
NetRegressor
        A fitted fastnn estimator; a Net estimator's module holds fastnn's built-in boxes.
    X_sample : array-like of shape (n_samples, n_features)
        Rows like the ones the graph will receive: they give its input's width and dtype
        (float64 gives a DOUBLE input, anything else FLOAT; the weights are cast to it).
        onnxruntime's CPU provider has no DOUBLE ``Conv``: export a network with ``Conv2d``
        boxes with a float32 sample to run it there.
    target_opset : int, optional
        The ONNX opset of the graph, at least 13; None is :data:`DEFAULT_OPSET`.

    Returns
    -------
    onnx.ModelProto
        A checked model with one input ``"X"`` of shape (None, n_features) and the outputs
        ``"label"`` and ``"probabilities"`` (classifiers) or ``"variable"`` (regressors), which
        equal the estimator's ``predict`` and ``predict_proba`` (``decision_function`` for the
        perceptron) to the rounding of the dtype.

    Raises
    ------
    TypeError
        When ``model`` is not one of these estimators, or its module holds a box of one's
        own.
    ValueError
        When ``X_sample`` does not have the model's number of features, or the opset is too
        old; sklearn's NotFittedError when the model is not fitted.
    """
    import onnx
    from onnx import helper, numpy_helper
    from sklearn.utils.validation import check_is_fitted

    _kind(model)
    check_is_fitted(model)
    opset = _check_opset(target_opset)
    X_sample = np.asarray(X_sample)
    dtype = np.dtype(np.float64 if X_sample.dtype == np.float64 else np.float32)
    width = X_sample.shape[1] if X_sample.ndim == 2 else None
    if width != model.n_features_in_:
        raise ValueError(f"X_sample must have shape (n, {model.n_features_in_}), "
                         f"got {X_sample.shape}")
    used = set()

    def unique(hint):
        name, k = hint, 0
        while name in used:
            k += 1
            name = f"{hint}{k}"
        used.add(name)
        return name

    names = _output_names(model)
    used.update(["X", *names])
    graph = _Graph(unique, dtype)
    _write_graph(model, graph, "X", {name: name for name in names})

    elem = helper.np_dtype_to_tensor_dtype
    nodes = [helper.make_node(op, inputs, [output], name=unique(f"{op}_node"), **attributes)
             for op, inputs, output, attributes in graph.nodes]
    constants = [numpy_helper.from_array(value, name) for name, value in graph.constants]
    shapes = _output_shapes(model)
    output_types = {"variable": dtype, "probabilities": dtype}
    if "label" in names:
        output_types["label"] = _label_dtype(model)
    outputs = [helper.make_tensor_value_info(name, elem(output_types[name]), shapes[name])
               for name in names]
    inputs = [helper.make_tensor_value_info("X", elem(dtype), [None, model.n_features_in_])]
    onnx_graph = helper.make_graph(nodes, f"fastnn_{type(model).__name__}", inputs, outputs,
                                   constants)
    proto = helper.make_model_gen_version(onnx_graph, producer_name="fastnn",
                                          opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(proto)
    return proto


# ---------------------------------------------------------------------- skl2onnx
def _skl2onnx_shapes(operator):
    """skl2onnx's shape calculator: the types of the outputs of a fastnn estimator."""
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    model = operator.raw_operator
    rows = operator.inputs[0].get_first_dimension()
    float_type = (DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType)
                  else FloatTensorType)
    shapes = _output_shapes(model)
    for variable, name in zip(operator.outputs, _output_names(model)):
        if name == "label":
            cls = StringTensorType if _label_dtype(model).kind == "O" else Int64TensorType
        else:
            cls = float_type
        variable.type = cls([rows, *shapes[name][1:]])


def _skl2onnx_convert(scope, operator, container):
    """skl2onnx's converter: the graph of :func:`to_onnx`, written into skl2onnx's container."""
    from onnx import helper
    from skl2onnx.common.data_types import DoubleTensorType

    if container.target_opset is not None and container.target_opset < MIN_OPSET:
        raise ValueError(f"fastnn's graphs need opset {MIN_OPSET} or later, "
                         f"target_opset is {container.target_opset}")
    model = operator.raw_operator
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    graph = _Graph(scope.get_unique_variable_name, np.float64 if double else np.float32)
    outputs = {name: variable.full_name
               for name, variable in zip(_output_names(model), operator.outputs)}
    _write_graph(model, graph, operator.inputs[0].full_name, outputs)
    for name, value in graph.constants:
        # strings go in as a list: onnx's make_tensor encodes them
        content = value.tolist() if value.dtype.kind == "O" else value.ravel()
        container.add_initializer(name, helper.np_dtype_to_tensor_dtype(value.dtype),
                                  list(value.shape), content)
    for op, inputs, output, attributes in graph.nodes:
        container.add_node(op, inputs, [output], name=scope.get_unique_operator_name(op),
                           **attributes)


def register_skl2onnx():
    """Register fastnn's estimators with skl2onnx, so that ``skl2onnx.to_onnx`` converts
    them, alone or inside a scikit-learn pipeline, to the graphs of :func:`to_onnx`.

    Classifiers take skl2onnx's ``zipmap`` option (by default skl2onnx turns the
    probabilities into a list of {class: probability} maps; ``zipmap=False`` keeps the
    tensor); their labels are always the classes (``nocl=True``, labels as indices, is
    refused). Calling it again replaces the registrations with identical ones.
    """
    from skl2onnx import update_registered_converter

    from .estimators import (
        LogisticRegression,
        MLPClassifier,
        MLPRegressor,
        NetClassifier,
        NetRegressor,
        Perceptron,
    )

    for cls in (MLPClassifier, LogisticRegression, Perceptron, NetClassifier):
        update_registered_converter(cls, f"Fastnn{cls.__name__}", _skl2onnx_shapes,
                                    _skl2onnx_convert,
                                    options={"zipmap": [True, False, "columns"],
                                             "nocl": [False]})
    for cls in (MLPRegressor, NetRegressor):
        update_registered_converter(cls, f"Fastnn{cls.__name__}", _skl2onnx_shapes,
                                    _skl2onnx_convert)
