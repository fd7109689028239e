"""The roofline probes of :mod:`fastnn._roofline` (which ``fastnn bench`` runs too), for the
benchmarks: this core's compute peak, each memory level's bandwidth, and a workload's bound."""
from fastnn._roofline import (  # noqa: F401
    PROBE_BYTES,
    Bound,
    Roofline,
    bandwidth_probe,
    bound,
    cache_capacity,
    flops_per_example,
    fma_probe,
    measure,
    measure_bandwidth,
    measure_fma_flops,
    measure_sgemm_flops,
    parameter_traffic_per_example,
    probe_table,
    sgemm_probe,
    working_set_bytes,
)
