"""The room kit, instructor tooling: ``python -m labkit room pack|serve|report|forget``.

- ``pack``: everything a room installs from, without internet: the wheels of every chosen
  machine and Python (``wheels``), the datasets, a copy of the kit (``kit``), the attendees'
  instructions (``instructions``) and a manifest (``manifest``);
- ``serve``: the pack over the room's network under a room code, and the readiness reports
  attendees send (``schema`` declares their shape, ``reports`` checks and stores them, ``page``
  shows them to the instructor, ``limits`` keeps any one client from taking the server);
- ``cli``: the command line.

Nothing a learner imports loads this package (``tests/test_bench.py`` checks it); the attendee's
side of an offline install is ``labkit.install.offline``.
"""
