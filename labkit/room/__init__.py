"""The room kit, instructor tooling: ``python -m labkit room pack|serve|report``.

- ``pack``: everything a room installs from, without internet: the wheels of every chosen
  machine and Python (``wheels``), the datasets, a copy of the kit (``kit``), the attendees'
  instructions (``instructions``) and a manifest (``manifest``);
- ``serve``: the pack over the room's network, and the readiness reports attendees send
  (``reports`` stores them, ``page`` shows them);
- ``cli``: the command line.

Nothing a learner imports loads this package (``tests/test_bench.py`` checks it); the attendee's
side of an offline install is ``labkit.install.offline``.
"""
