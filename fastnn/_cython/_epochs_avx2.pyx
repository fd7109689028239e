# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""The kernels of :mod:`fastnn._cython._epochs`, the same source compiled for x86-64 CPUs with
AVX2: setup.py adds ``-mavx2`` (wider vectors for the per-example loops) but no FMA, so every
result is bit for bit that of the baseline build. :mod:`fastnn._cython` loads this module only
when ``_epochs.cpu_has_avx2()`` says the CPU runs it.
"""
include "_epochs.pyx"
