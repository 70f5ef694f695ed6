"""labkit: the shared package of the TensorFlow/Keras deep-learning workshop.

One module per concern: ``datasets`` (find, download and load the data), ``checks``
(exercise feedback), ``notebooks`` (build exercise notebooks from solutions, run them),
``plots``, ``fastmode``, ``metrics``, ``challenge`` (a lab's closing challenge, scored as
metrics), ``timebudget`` (a learning-rate schedule that fits a time budget), ``session``
(``start_lab``), ``slot_filling`` (ATIS as labs 06 and 07 use it), ``frechet`` and
``epoch_grids`` (scoring and watching a generator), ``logical_devices`` and ``local_cluster``
(several replicas and workers on one computer, lab 09), ``doctor`` (what ``main.py``
reports), ``locks``, ``kernel`` and ``offline`` (the install), ``room`` (the instructor's
room kit).
Importing ``labkit`` is cheap: TensorFlow is imported only by code that needs it. The
benchmark is maintainer tooling outside the package (``benchmarks/`` in the repository).
"""

__version__ = "0.1.0"

from labkit.fastmode import choose, is_fast
from labkit.metrics import report
from labkit.session import lab_seed, start_lab

__all__ = ["__version__", "choose", "is_fast", "lab_seed", "report", "start_lab"]
