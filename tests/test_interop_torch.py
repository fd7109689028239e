"""fastnn.interop_torch: a chain of boxes and its PyTorch twin compute the same function."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fastnn import nn  # noqa: E402
from fastnn.interop_torch import from_torch, to_torch  # noqa: E402

X = np.random.default_rng(0).normal(size=(9, 4))


def fastnn_chain(backend="numpy"):
    return nn.Sequential(
        nn.Linear(4, 6, rng=0, dtype=np.float64, backend=backend), nn.Tanh(backend=backend),
        nn.Linear(6, 5, rng=1, dtype=np.float64, backend=backend), nn.ReLU(backend=backend),
        nn.Linear(5, 5, rng=2, dtype=np.float64, backend=backend), nn.Sigmoid(backend=backend),
        nn.Identity(backend=backend),
        nn.Linear(5, 3, rng=3, dtype=np.float64, backend=backend), nn.Softmax(backend=backend))


def torch_chain():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 6, dtype=torch.float64), torch.nn.Tanh(),
        torch.nn.Linear(6, 5, bias=False, dtype=torch.float64), torch.nn.ReLU(),
        torch.nn.Sequential(torch.nn.Linear(5, 5, dtype=torch.float64), torch.nn.Sigmoid()),
        torch.nn.Identity(), torch.nn.Linear(5, 3, dtype=torch.float64),
        torch.nn.Softmax(dim=-1))


def torch_output(module, X):
    with torch.no_grad():
        return module(torch.from_numpy(X)).numpy()


def with_biases(chain):
    """The chain with non-zero biases (fastnn's start at 0), so that they are checked too."""
    for k, p in enumerate(p for p in chain.parameters() if p.name == "b"):
        p.value[...] = np.linspace(-1, 1, p.value.size) * (k + 1) / 4
    return chain


@pytest.mark.parametrize("backend", ["numpy", "auto"])
def test_to_torch_computes_the_same_function(backend):
    chain = with_biases(fastnn_chain(backend))
    twin = to_torch(chain)
    assert isinstance(twin, torch.nn.Sequential) and len(twin) == len(chain)
    assert twin[0].weight.shape == (6, 4) and twin[0].weight.dtype == torch.float64
    np.testing.assert_allclose(torch_output(twin, X), chain.fprop(X), rtol=0, atol=1e-10)
    # copies: changing the twin leaves the chain as it was
    with torch.no_grad():
        twin[0].weight.zero_()
    assert np.abs(chain[0].W.value).sum() > 0


def test_from_torch_computes_the_same_function():
    twin = torch_chain()
    chain = from_torch(twin, backend="numpy")
    assert chain[0].W.shape == (4, 6) and chain[0].W.dtype == np.float64
    np.testing.assert_array_equal(chain[2].b.value, np.zeros(5))  # Linear without bias
    np.testing.assert_allclose(chain.fprop(X), torch_output(twin, X), rtol=0, atol=1e-10)


def test_round_trip_keeps_the_weights():
    chain = with_biases(fastnn_chain())
    back = from_torch(to_torch(chain), backend="numpy")
    for (name, p), (name_back, q) in zip(chain.named_parameters(), back.named_parameters()):
        assert name == name_back
        np.testing.assert_array_equal(p.value, q.value)
    np.testing.assert_allclose(back.fprop(X), chain.fprop(X), rtol=0, atol=1e-10)


def test_dtype_follows_the_weights_or_the_argument():
    twin = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Sigmoid())  # float32
    assert from_torch(twin)[0].W.dtype == np.float32
    assert from_torch(twin, dtype=np.float64)[0].W.dtype == np.float64
    assert to_torch(nn.Linear(3, 2, dtype=np.float32)).weight.dtype == torch.float32


def test_unknown_boxes_and_modules_raise_type_error_naming_them():
    with pytest.raises(TypeError, match="Threshold"):
        to_torch(nn.Sequential(nn.Linear(2, 2), nn.Threshold()))
    with pytest.raises(TypeError, match="Dropout"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout()))
    with pytest.raises(TypeError, match="Conv1d"):
        from_torch(torch.nn.Conv1d(1, 1, 3))
    with pytest.raises(ValueError, match="dim=1"):
        from_torch(torch.nn.Softmax(dim=0))
