"""The ``fastnn`` command end to end, in a subprocess: ``train`` on digits, on a CSV and on an
``.npz`` file, ``--save``, and ``info``; bad arguments and bad input files in process."""
import os
import re
import shutil
import sys
import tempfile

import numpy as np
import pytest

from fastnn.cli import main
from fastnn.estimators import MLPClassifier, MLPRegressor, load
from tests.background import BackgroundRuns

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# the files the end-to-end runs read and write; removed when the session ends
WORK = tempfile.TemporaryDirectory(prefix="fastnn-cli-")
DATA = os.path.join(WORK.name, "data.csv")
REG = os.path.join(WORK.name, "reg.npz")
DIVERGING = os.path.join(WORK.name, "diverging.npz")
DIGITS_MODEL = os.path.join(WORK.name, "digits-model.npz")
REG_MODEL = os.path.join(WORK.name, "reg-model.npz")


def write_inputs():
    """A CSV classification with a named target among the columns, an .npz regression, and
    an .npz regression that diverges at a large learning rate."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    labels = np.where(X[:, 0] + X[:, 1] > 0, "up", "down")
    with open(DATA, "w") as fh:
        fh.write("a,label,b,c\n")
        for x, lab in zip(X, labels):
            fh.write(f"{x[0]},{lab},{x[1]},{x[2]}\n")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    np.savez(REG, X=X, y=X @ np.array([0.5, -1.0, 0.25, 0.0]) + 0.05 * rng.normal(size=300))
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 4))
    np.savez(DIVERGING, X=X, y=X @ np.array([0.5, -1.0, 0.25, 0.0]))


def python_m_fastnn(*args):
    return [sys.executable, "-m", "fastnn", *args]


# Every end-to-end run of ``python -m fastnn`` (from a clean working directory), queued by the
# conftest once the tests are chosen and run one after the other alongside the rest of the
# suite; each test below checks one of them.
COMMANDS = {
    "digits": python_m_fastnn("train", "--epochs", "3", "--hidden", "32", "--save", DIGITS_MODEL),
    "csv": python_m_fastnn("train", DATA, "--target", "label", "--epochs", "10", "--hidden", "8",
                           "--quiet", "--backend", "numpy", "--dtype", "float32"),
    "npz": python_m_fastnn("train", REG, "--epochs", "20", "--hidden", "16", "--lr", "0.001",
                           "--quiet", "--save", REG_MODEL),
    "info": python_m_fastnn("info"),
    "one epoch": python_m_fastnn("train", "--epochs", "1", "--hidden", "8", "--quiet",
                                 "--backend", "numpy"),
    "huge rate": python_m_fastnn("train", "--lr", "1e6", "--epochs", "2", "--hidden", "8",
                                 "--quiet", "--backend", "numpy"),
    "diverging": python_m_fastnn("train", DIVERGING, "--lr", "10", "--epochs", "5", "--hidden", "8",
                                 "--quiet", "--backend", "numpy"),
    "bench": python_m_fastnn("bench", "--quick", "--workloads", "sgd1,mb32"),
}
if shutil.which("fastnn") is not None:
    COMMANDS["console script"] = ["fastnn", "info"]
BACKGROUND = BackgroundRuns(COMMANDS, prepare=write_inputs, timeout=600, cwd=os.path.dirname(ROOT),
                            env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep
                                     + os.environ.get("PYTHONPATH", "")))


def fastnn(name, check=True):
    """The finished end-to-end run ``name`` of ``COMMANDS``."""
    done = BACKGROUND.result(name, timeout=1200)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def reported(output, label):
    return float(re.search(rf"{label}: (-?[0-9.]+)", output).group(1))


@pytest.mark.slow
def test_train_digits_end_to_end_and_save():
    path = DIGITS_MODEL
    done = fastnn("digits")
    out = done.stdout
    assert "digits" in out and "64-32-10 tanh" in out and "epochs:   3" in out
    assert reported(out, "test accuracy") > 0.9
    assert re.search(r"fit time: [0-9.]+ s \(first epoch [0-9.]+ s\); [0-9,]+ examples/s", out)
    assert "Iteration 3, loss = " in out                  # scikit-learn's verbose lines
    model = load(path)
    assert isinstance(model, MLPClassifier) and model.n_iter_ == 3
    assert model.hidden_layer_sizes == (32,) and model.coefs_[0].shape == (64, 32)


@pytest.mark.slow
def test_train_a_csv_classification_with_named_target():
    out = fastnn("csv").stdout
    assert "classification" in out and "3-8-2" in out and "numpy, float32" in out
    assert reported(out, "test accuracy") > 0.85


@pytest.mark.slow
def test_train_an_npz_regression():
    out = fastnn("npz").stdout
    assert "regression" in out
    assert reported(out, r"test R\^2") > 0.9
    assert isinstance(load(REG_MODEL), MLPRegressor)


@pytest.mark.parametrize("args,message", [
    (["train", "no-such-file.csv"], "no dataset or file"),
    (["train", "--backend", "gpu"], "unknown backend 'gpu'"),
])
def test_bad_arguments_give_a_clear_error(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("hidden", ["10,zero", "10,,5", ",5"])
def test_hidden_must_be_sizes(hidden, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--hidden", hidden])
    assert exit_.value.code == 2 and "--hidden takes sizes" in capsys.readouterr().err


def test_hidden_takes_a_trailing_comma():
    from fastnn.cli import _parse_hidden

    assert _parse_hidden("100,") == (100,) and _parse_hidden("128,64") == (128, 64)


def test_help_names_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(f"fastnn {command}" in out for command in ("train", "info", "bench", "compile"))
    assert "``" not in out


@pytest.mark.slow
def test_info_lists_versions_backends_threads_and_cache():
    import fastnn as package
    from fastnn._numba._cache import cache_directory

    out = fastnn("info").stdout
    assert f"fastnn {package.__version__}" in out and "numpy " in out and "scikit-learn " in out
    assert re.search(r"backends: .*numpy", out)
    assert re.search(r"threads: [0-9]+ CPUs, numba [0-9]+ threads", out)
    # the directory kernels are cached in: here the package's own, which is writable
    in_use = cache_directory()
    assert in_use == os.path.join(os.path.dirname(package._numba.__file__), "__pycache__")
    assert f"numba cache directory: {in_use}\n" in out


def test_info_says_when_no_cache_directory_is_safe(tmp_path, monkeypatch, capsys):
    from fastnn._numba import _cache

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(_cache, "cache_directories", lambda py_file: [str(shared)])
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert ("numba cache directory: none (kernels compiled in memory: no safe cache directory)"
            in out)


def _recorded_compile_all(monkeypatch):
    from fastnn._numba import warmup

    calls = []
    monkeypatch.setattr(warmup, "compile_all", lambda dtypes: calls.append(dtypes))
    return calls


@pytest.mark.parametrize("option, dtypes", [([], [(np.float32,), (np.float64,)]),
                                            (["--dtype", "float64"], [(np.float64,)])])
def test_compile_fills_the_cache_for_each_dtype(option, dtypes, tmp_path, monkeypatch, capsys):
    from fastnn._numba import _cache

    calls = _recorded_compile_all(monkeypatch)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(_cache, "cache_directories", lambda py_file: [str(private)])
    assert main(["compile", *option]) == 0
    assert calls == dtypes
    out = capsys.readouterr().out
    assert f"cached in: {private}\n" in out
    assert all(f"{np.dtype(d[0]).name}: the kernels compiled or loaded in" in out
               for d in dtypes)


def test_compile_refuses_when_the_kernels_could_not_be_kept(tmp_path, monkeypatch, capsys):
    from fastnn._numba import _cache

    calls = _recorded_compile_all(monkeypatch)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(_cache, "cache_directories", lambda py_file: [str(shared)])
    assert main(["compile"]) == 2
    assert calls == []
    assert ("fastnn compile: error: nothing would be kept (kernels compiled in memory: no safe "
            "cache directory): set FASTNN_CACHE_DIR") in capsys.readouterr().err


def _write(path, text, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)
    return str(path)


def _rows(separator, n=120):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] > 0).astype(int)
    return "".join(f"{a:.4f}{separator}{b:.4f}{separator}{t}\n" for (a, b), t in zip(X, y))


def test_csv_with_byte_order_mark_names_its_first_column(tmp_path, capsys):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 2))
    body = "".join(f"{int(a > 0)},{a:.4f},{b:.4f}\n" for a, b in X)
    path = _write(tmp_path / "bom.csv", "label,a,b\n" + body, encoding="utf-8-sig")
    assert main(["train", path, "--target", "label", "--epochs", "2", "--hidden", "4", "--quiet",
                 "--backend", "numpy"]) == 0
    assert "target column 'label'" in capsys.readouterr().out


def test_semicolon_separated_csv_is_read(tmp_path, capsys):
    path = _write(tmp_path / "semi.csv", "a;b;y\n" + _rows(";"))
    assert main(["train", path, "--epochs", "2", "--hidden", "4", "--quiet",
                 "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "target column 'y', 120 rows, 2 features" in out and "2-4-2" in out


@pytest.mark.parametrize("content", [b"X,y\n1,2\n", b"", b"PK\x03\x04 truncated archive"])
def test_a_file_named_npz_that_is_not_one(tmp_path, content, capsys):
    path = tmp_path / "X.npz"
    path.write_bytes(content)
    assert main(["train", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"fastnn train: error: {path} is not a NumPy .npz file" in err
    assert "pickle" not in err


def test_a_single_npy_array_named_npz_is_refused(tmp_path, capsys):
    path = tmp_path / "one.npz"
    with open(path, "wb") as fh:
        np.save(fh, np.ones((4, 2)))
    assert main(["train", str(path), "--quiet"]) == 2
    assert f"{path} is not a NumPy .npz file" in capsys.readouterr().err


def test_float_target_is_not_truncated_into_classes(tmp_path, capsys):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 2))
    path = tmp_path / "reg.npz"
    np.savez(path, X=X, y=X[:, 0] * 0.7)
    assert main(["train", str(path), "--task", "classification", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert ("fastnn train: error: the target array 'y' holds non-integer values; "
            "classification needs labels") in err


def test_save_directory_is_checked_before_training(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "no-such-dir" / "model.npz"
    assert main(["train", "--save", str(missing), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert f"fastnn train: error: --save {missing}: the directory" in captured.err
    assert "does not exist" in captured.err and "network:" not in captured.out
    # root may write anywhere: a directory this process may not write to is simulated
    monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: False)
    assert main(["train", "--save", str(tmp_path / "model.npz"), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "is not writable" in captured.err and "network:" not in captured.out


@pytest.mark.slow
def test_warnings_of_training_are_printed_not_dropped():
    done = fastnn("one epoch")
    assert ("fastnn train: warning: ConvergenceWarning: Stochastic Optimizer: Maximum "
            "iterations (1) reached") in done.stderr
    assert done.stderr.count("ConvergenceWarning") == 1


@pytest.mark.slow
def test_a_huge_learning_rate_is_not_silent():
    done = fastnn("huge rate", check=False)
    assert done.returncode != 0 or "fastnn train: warning: the final training loss" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_divergence_is_an_error_not_a_traceback():
    done = fastnn("diverging", check=False)
    assert done.returncode == 2, done.stderr
    assert "fastnn train: error: the training loss became NaN or infinite" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(shutil.which("fastnn") is None, reason="the console script is not installed")
@pytest.mark.slow
def test_console_script_runs():
    done = fastnn("console script", check=False)
    assert done.returncode == 0 and "backends:" in done.stdout


@pytest.mark.slow
def test_bench_quick_prints_every_backend_against_the_reference_and_the_roofline():
    from fastnn import available_backends

    done = fastnn("bench")
    assert "Traceback" not in done.stderr and "warning" not in done.stderr.lower()
    lines = done.stdout.splitlines()
    assert any(line.startswith("  float32 FMA loop") for line in lines)
    for workload in ("sgd1", "mb32"):
        for peer in available_backends():
            row = [line for line in lines if line.split()[:2] == [workload, peer]]
            assert len(row) == 1, done.stdout
            rate, ratio, share = row[0].split()[2:]
            assert float(rate.replace(",", "")) > 0 and ratio.endswith("x")
            assert 0 < float(share) < 1
        assert any(line.split()[:1] == ["bound:"] for line in lines)
    assert not any(line.startswith("mb128") for line in lines)


def test_bench_rejects_an_unknown_workload(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--workloads", "sgd1,mb64"])
    names = "sgd1, sgd1-images, sgd1-momentum-l2, mb32, mb128"
    assert f"--workloads takes names from {names}, got 'sgd1,mb64'" in capsys.readouterr().err
