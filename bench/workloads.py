"""The benchmark workloads sgd1, mb32 and mb128, defined in :mod:`fastnn._workloads` (which
``fastnn bench`` runs too) and re-exported here for the benchmarks."""
from fastnn._workloads import (  # noqa: F401
    DTYPE,
    LEARNING_RATE,
    N_CLASSES,
    N_EXAMPLES,
    N_FEATURES,
    WORKLOADS,
    Workload,
    data_for,
    epoch_arguments,
    make_data,
    make_network,
    roofline_bound,
    trainer,
)
