"""labkit: the shared package of the TensorFlow/Keras deep-learning workshop.

Its folders say who uses what: ``lab`` (what a learner's notebook imports: ``session``,
``fastmode``, ``metrics``, ``challenge``, ``timebudget``, ``plots``, ``slot_filling``,
``frechet``, ``epoch_grids``, ``logical_devices``, ``local_cluster``), ``datasets`` (find,
download and load the data), ``checks`` (exercise feedback), ``notebooks`` (the solution
notebooks, the exercise notebooks built from them, running one), ``install`` (``locks``,
``offline``, ``kernel``, ``steps`` and ``doctor``: the setup scripts and ``main.py``),
``room`` (the instructor's room kit); ``settings`` (every ``LABKIT_*`` variable, the supported
Pythons), ``paths``, ``files``, ``errors``, ``startup_log`` and ``devices`` are shared by all.
Importing ``labkit`` is cheap: TensorFlow is imported only by code that needs it. The
benchmark is maintainer tooling outside the package (``benchmarks/`` in the repository).
"""

__version__ = "0.1.0"

from labkit.lab.fastmode import choose, is_fast
from labkit.lab.metrics import report
from labkit.lab.session import lab_seed, start_lab
from labkit.startup_log import quiet_next_tensorflow_import

# A script that imports labkit starts TensorFlow as quietly as a notebook does (errors shown).
quiet_next_tensorflow_import()

__all__ = ["__version__", "choose", "is_fast", "lab_seed", "report", "start_lab"]
