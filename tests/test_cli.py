"""The ``fastnn`` command end to end, in a subprocess: ``train`` on digits, on a CSV and on an
``.npz`` file, ``--save``, and ``info``; bad arguments in process."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fastnn.cli import main
from fastnn.estimators import MLPClassifier, MLPRegressor, load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fastnn(*args, check=True):
    """Run ``python -m fastnn ARGS`` from a clean working directory; return the process."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-m", "fastnn", *args], capture_output=True, text=True,
                          env=env, cwd=os.path.dirname(ROOT), timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def reported(output, label):
    return float(re.search(rf"{label}: (-?[0-9.]+)", output).group(1))


def test_train_digits_end_to_end_and_save(tmp_path):
    path = tmp_path / "digits-model.npz"
    done = fastnn("train", "--epochs", "3", "--hidden", "32", "--save", str(path))
    out = done.stdout
    assert "digits" in out and "64-32-10 tanh" in out and "epochs:   3" in out
    assert reported(out, "test accuracy") > 0.9
    assert re.search(r"fit time: [0-9.]+ s \(first epoch [0-9.]+ s\); [0-9,]+ examples/s", out)
    assert "loss=" in done.stderr and "examples_per_s=" in done.stderr      # the progress bar
    model = load(path)
    assert isinstance(model, MLPClassifier) and model.n_iter_ == 3
    assert model.hidden_layer_sizes == (32,) and model.coefs_[0].shape == (64, 32)


def test_train_a_csv_classification_with_named_target(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    labels = np.where(X[:, 0] + X[:, 1] > 0, "up", "down")
    path = tmp_path / "data.csv"
    with open(path, "w") as fh:
        fh.write("a,label,b,c\n")
        for x, lab in zip(X, labels):
            fh.write(f"{x[0]},{lab},{x[1]},{x[2]}\n")
    out = fastnn("train", str(path), "--target", "label", "--epochs", "10", "--hidden", "8",
                 "--quiet", "--backend", "numpy", "--dtype", "float32").stdout
    assert "classification" in out and "3-8-2" in out and "numpy, float32" in out
    assert reported(out, "test accuracy") > 0.85


def test_train_an_npz_regression(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    path = tmp_path / "reg.npz"
    np.savez(path, X=X, y=X @ np.array([0.5, -1.0, 0.25, 0.0]) + 0.05 * rng.normal(size=300))
    model_path = tmp_path / "reg-model.npz"
    out = fastnn("train", str(path), "--epochs", "20", "--hidden", "16", "--lr", "0.001", "--quiet",
                 "--save", str(model_path)).stdout
    assert "regression" in out
    assert reported(out, r"test R\^2") > 0.9
    assert isinstance(load(model_path), MLPRegressor)


@pytest.mark.parametrize("args,message", [
    (["train", "no-such-file.csv"], "no dataset or file"),
    (["train", "--backend", "gpu"], "unknown backend 'gpu'"),
])
def test_bad_arguments_give_a_clear_error(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_hidden_must_be_sizes(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--hidden", "10,zero"])
    assert exit_.value.code == 2 and "--hidden takes sizes" in capsys.readouterr().err


def test_info_lists_versions_backends_threads_and_cache():
    import fastnn as package

    out = fastnn("info").stdout
    assert f"fastnn {package.__version__}" in out and "numpy " in out and "scikit-learn " in out
    assert re.search(r"backends: .*numpy", out)
    assert "threads:" in out
    assert f"numba cache directory: {package.get_config()['cache_dir']}" in out


@pytest.mark.skipif(shutil.which("fastnn") is None, reason="the console script is not installed")
def test_console_script_runs():
    done = subprocess.run(["fastnn", "info"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "backends:" in done.stdout
