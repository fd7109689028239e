"""fastnn's benchmarks (pytest-benchmark): ``python -m pytest bench``. See docs/performance.md."""
