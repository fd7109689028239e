# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""The kernel of :mod:`fastnn._cython._risk`, the same source compiled for x86-64 CPUs with
AVX2: setup.py adds ``-mavx2`` (four doubles per vector in the float64 tanh) but no FMA, so
every result is bit for bit that of the baseline build. :mod:`fastnn._cython` loads this
module only when ``_epochs.cpu_has_avx2()`` says the CPU runs it.
"""
include "_risk.pyx"
