"""labkit: the shared package of the TensorFlow/Keras deep-learning workshop.

One module per concern: ``datasets`` (find, download and load the data), ``checks``
(exercise feedback), ``notebooks`` (build exercise notebooks from solutions, run them),
``plots``, ``fastmode``, ``metrics``, ``timebudget`` (a learning-rate schedule that fits a
time budget), ``session`` (``start_lab``), ``frechet`` and ``epoch_grids`` (scoring and
watching a generator), ``doctor`` (what ``main.py`` reports).
Importing ``labkit`` is cheap: TensorFlow is imported only by code that needs it. The
benchmark is maintainer tooling outside the package (``benchmarks/`` in the repository).
"""

__version__ = "0.1.0"

from labkit.fastmode import choose, is_fast
from labkit.metrics import report
from labkit.session import lab_seed, start_lab

__all__ = ["__version__", "choose", "is_fast", "lab_seed", "report", "start_lab"]
