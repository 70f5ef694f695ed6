"""The lab notebooks: ``solutions`` (the master copies and their solution regions), ``build``
(the exercise notebooks made from them, outputs stripped) and ``run`` (run one, for the tests
and the benchmark)."""
