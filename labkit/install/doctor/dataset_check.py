"""Where each dataset is and whether every file matches its checksum.

Hashing Fashion-MNIST means decompressing and hashing about 55 MB. ``start`` runs it in a
thread while TensorFlow imports (zlib and hashlib release the GIL, so it uses another core), and
``result`` collects it: the check costs main.py little beyond the import it waits for anyway.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from labkit.errors import first_line
from labkit.install.doctor.report import Unavailable


def check_datasets() -> dict[str, Any]:
    """For each dataset: where it was found, why labkit looks there, and whether it verifies."""
    from labkit.datasets import DATASETS, store

    found = {}
    for name, dataset in DATASETS.items():
        folder = store.find(dataset)
        entry: dict[str, Any] = {
            "required": bool(dataset.required),
            "path": str(folder) if folder else None,
            "found_through": store.origin(dataset, folder) if folder else None,
            "verified": None,
            "error": None,
            "files": list(dataset.files),
        }
        if folder is not None:
            try:
                for file_name in dataset.files:
                    store.check_file(dataset, folder, file_name)
                entry["verified"] = True
            except store.BadFile as exc:  # the folder is in "path": name the file only
                entry["verified"] = False
                entry["error"] = exc.problem.replace(f"{folder}{os.sep}", "")
        found[name] = entry
    return found


def start() -> Future[dict[str, Any]]:
    """Start ``check_datasets`` in a background thread (labkit.datasets is imported here, in
    the calling thread, so that no import races TensorFlow's)."""
    try:
        import labkit.datasets  # noqa: F401
    except Exception as exc:
        future: Future[dict[str, Any]] = Future()
        future.set_exception(
            Unavailable(
                f"unavailable (labkit.datasets did not import: {type(exc).__name__}: "
                f"{first_line(exc)})"
            )
        )
        return future
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labkit-datasets")
    future = pool.submit(check_datasets)
    pool.shutdown(wait=False)  # the task runs on; the thread ends with it
    return future
