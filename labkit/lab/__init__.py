"""What a learner's notebook imports, beside ``labkit.datasets`` and ``labkit.checks``:
``session`` (``start_lab``), ``fastmode`` and ``metrics`` (``choose``, ``report``),
``challenge``, ``timebudget``, ``plots``, ``slot_filling`` (labs 06 and 07), ``frechet`` and
``epoch_grids`` (lab 08), ``logical_devices`` and ``local_cluster`` (lab 09),
``language_models`` (lab 10)."""
