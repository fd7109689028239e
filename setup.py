"""Build script: the compiled (Cython) extensions are declared here.

The metadata lives in pyproject.toml."""
import platform
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

# The kernels of fastnn._cython; compiler directives sit in each .pyx header. -O3 is explicit
# because a CFLAGS variable would otherwise replace Python's optimisation flags. No -ffast-math
# and no multiply-add contraction: float64 results follow the reference's order of operations.
# -fno-trapping-math changes no value (the kernels never read floating-point exception flags);
# it lets loops with a comparison (relu, the float32 tanh, sign) vectorise.
UNIX = sys.platform != "win32"
FLAGS = (["-O3", "-ffp-contract=off", "-fno-trapping-math", "-funroll-loops"] if UNIX
         else ["/O2", "/fp:precise"])
# the epoch and risk kernels are built twice on x86-64: for any CPU, and for CPUs with AVX2
# (chosen at import by fastnn._cython, so a wheel runs on any x86-64 machine)
AVX2 = UNIX and platform.machine().lower() in ("x86_64", "amd64")
# the minibatch epochs split a batch across OpenMP threads (Cython's prange): compiled and
# linked with OpenMP. Apple's clang has no -fopenmp: there prange compiles to a plain loop,
# the same results on one thread
OPENMP = sys.platform != "darwin"
OPENMP_COMPILE = (["-fopenmp"] if UNIX else ["/openmp"]) if OPENMP else []
OPENMP_LINK = ["-fopenmp"] if UNIX and OPENMP else []


def extension(name, extra_flags=(), openmp=False):
    return Extension(f"fastnn._cython.{name}", [f"fastnn/_cython/{name}.pyx"],
                     include_dirs=[np.get_include()],
                     define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                     extra_compile_args=FLAGS + list(extra_flags)
                     + (OPENMP_COMPILE if openmp else []),
                     extra_link_args=OPENMP_LINK if openmp else [])


extensions = [extension(name, openmp=name == "_epochs")
              for name in ("_layers", "_epochs", "_perceptron", "_risk", "_conv", "_sparse")]
if AVX2:
    extensions.append(extension("_epochs_avx2", ["-mavx2"], openmp=True))
    extensions.append(extension("_risk_avx2", ["-mavx2"]))

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}))
