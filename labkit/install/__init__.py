"""What the setup scripts and ``main.py`` use: ``locks`` (the requirements per machine),
``offline`` (installing from an instructor's pack; standard library only, run before anything
is installed), ``kernel`` (the Jupyter kernel), ``steps`` (runs the setup's long commands into
its log; standard library only) and ``doctor`` (what ``main.py`` reports)."""
