"""The benchmark of the labs: maintainer tooling, kept out of ``labkit`` so that nothing a
learner imports loads it. ``python -m labkit bench`` imports it from the checkout.

- ``labs``: what each lab is measured on (``LABS``)
- ``compare``: one run against its reference, and the median and spread of several runs
- ``recorder``: what runs inside the notebook's kernel to record its model's curve
- ``references``: the reference models, trained in the same run
- ``report``: the results files (``results/``) and the README's table
- ``run``: runs it all
"""
