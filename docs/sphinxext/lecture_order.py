"""The order of the example gallery: the order in which the lecture meets each idea."""
from pathlib import Path

LECTURE_ORDER = (
    "plot_linear_vs_complex.py",
    "plot_under_over_fitting.py",
    "plot_perceptron.py",
    "plot_xor.py",
    "plot_activations.py",
    "plot_universal_approximation.py",
    "plot_initialisation.py",
    "plot_l1_l2.py",
    "plot_digits.py",
    "plot_cnn_digits.py",
)


class LectureOrder:
    """sphinx-gallery ``within_subsection_order`` key: the lecture's order, then any other
    example by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __repr__(self):
        return "<LectureOrder>"

    def __call__(self, filename):
        name = Path(filename).name
        rank = LECTURE_ORDER.index(name) if name in LECTURE_ORDER else len(LECTURE_ORDER)
        return (rank, name)
