"""labkit.datasets: IDX and ATIS parsing, search order, checksums, downloads, errors."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, dataset_or_skip

from labkit.datasets import atis, fashion_mnist, idx, store
from labkit.datasets.store import Dataset
from labkit.errors import DataError


# ---------------------------------------------------------------- fixtures made here
def idx_bytes(array: np.ndarray) -> bytes:
    return (
        b"\x00\x00\x08"
        + bytes([array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.astype(np.uint8).tobytes()
    )


def write_gz(path: Path, content: bytes) -> None:
    with gzip.open(path, "wb") as f:
        f.write(content)


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def tiny_idx(tmp_path: Path) -> tuple[Dataset, Path, dict[str, np.ndarray]]:
    """A four-file IDX dataset like Fashion-MNIST: 6 training and 3 test images of 4x5."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 4, 5)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 6),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 4, 5)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 3),
    }
    folder = tmp_path / "source" / "tiny"
    folder.mkdir(parents=True)
    files = {}
    for name, array in arrays.items():
        content = idx_bytes(array)
        write_gz(folder / name, content)
        files[name] = sha(content)
    dataset = Dataset(name="tiny", title="Tiny", files=files, mirrors=(folder.as_uri(),))
    return dataset, folder, arrays


@pytest.fixture(autouse=True)
def isolated_search(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fixture datasets are looked for only where each test puts them."""
    monkeypatch.delenv("LABKIT_DATA_DIR", raising=False)
    monkeypatch.setattr(store, "default_data_dir", lambda: tmp_path / "repo-data")


# ---------------------------------------------------------------- IDX format
def test_parse_idx_round_trip() -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    parsed = idx.parse_idx(idx_bytes(array))
    assert parsed.dtype == np.uint8 and parsed.shape == (2, 3, 4)
    np.testing.assert_array_equal(parsed, array)


def test_parse_idx_other_dtypes_are_native() -> None:
    values = np.array([1.5, -2.0], dtype=">f4")
    content = b"\x00\x00\x0d\x01" + struct.pack(">I", 2) + values.tobytes()
    parsed = idx.parse_idx(content)
    assert parsed.dtype == np.float32 and parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, [1.5, -2.0])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04rest", "not an IDX file"),
        (b"\x00\x00\x08\x03\x00\x00", "incomplete header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 10) + bytes(7), "truncated or corrupt"),
    ],
)
def test_parse_idx_rejects_bad_files(content: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        idx.parse_idx(content)


def test_load_idx_dataset_from_fixture(tiny_idx) -> None:
    dataset, folder, arrays = tiny_idx
    (x, y), (xt, yt) = idx.load_idx_dataset(dataset, folder.parent)
    assert x.shape == (6, 4, 5) and xt.shape == (3, 4, 5) and x.dtype == np.uint8
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(xt, arrays["t10k-images-idx3-ubyte.gz"])


def test_mismatched_images_and_labels(tiny_idx, tmp_path: Path) -> None:
    dataset, folder, _ = tiny_idx
    content = idx_bytes(np.zeros(5, dtype=np.uint8))  # 5 labels for 6 images
    write_gz(folder / "train-labels-idx1-ubyte.gz", content)
    files = {**dataset.files, "train-labels-idx1-ubyte.gz": sha(content)}
    with pytest.raises(DataError, match="do not match labels"):
        idx.load_idx_dataset(dataclasses.replace(dataset, files=files), folder)


# ---------------------------------------------------------------- search and verification
def test_search_order(tiny_idx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset, folder, _ = tiny_idx
    assert store.find(dataset) is None
    system = dataclasses.replace(dataset, system_dirs=(folder,))
    assert store.find(system) == folder  # system folders come last but are searched
    env_root = tmp_path / "env-root"
    (env_root / "tiny").mkdir(parents=True)
    for name in dataset.files:
        (env_root / "tiny" / name).write_bytes((folder / name).read_bytes())
    monkeypatch.setenv(
        "LABKIT_DATA_DIR", os.pathsep.join([str(tmp_path / "nowhere"), str(env_root)])
    )
    assert store.find(system) == env_root / "tiny"  # LABKIT_DATA_DIR before system folders
    assert store.find(system, folder) == folder  # an explicit data_dir wins, files directly in it
    repo_copy = tmp_path / "repo-data" / "tiny"
    repo_copy.mkdir(parents=True)
    for name in dataset.files:
        (repo_copy / name).write_bytes((folder / name).read_bytes())
    assert store.find(system) == repo_copy  # data/, where fetch puts it, before LABKIT_DATA_DIR
    assert store.origin(system, repo_copy) == "repository"
    assert store.origin(system, env_root / "tiny") == "LABKIT_DATA_DIR"
    assert store.origin(system, folder) == "system"


def test_missing_file_means_not_found(tiny_idx) -> None:
    dataset, folder, _ = tiny_idx
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as info:
        store.verify(dataset, folder.parent)
    message = str(info.value)
    assert "Tiny was not found" in message and str(folder) in message
    # The data folder was given, so the fix fetches into that folder, not the repository's.
    assert f"python -m labkit data fetch tiny --data-dir {folder.parent}" in message


def test_missing_dataset_without_a_data_folder_names_the_repository_and_the_variable(
    tiny_idx, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset, _, _ = tiny_idx
    monkeypatch.delenv("LABKIT_DATA_DIR", raising=False)
    message = str(store.not_found_error(dataset))
    assert "`python -m labkit data fetch tiny`" in message and "LABKIT_DATA_DIR" in message
    assert "--data-dir" not in message


def test_checksum_mismatch(tiny_idx) -> None:
    dataset, folder, _ = tiny_idx
    write_gz(folder / "train-labels-idx1-ubyte.gz", idx_bytes(np.ones(6)))
    with pytest.raises(DataError, match="corrupt or incomplete") as info:
        store.verify(dataset, folder.parent)
    assert "python -m labkit data fetch tiny" in str(info.value)


def test_truncated_gzip(tiny_idx) -> None:
    dataset, folder, _ = tiny_idx
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="truncated or not a valid gzip"):
        idx.load_idx_dataset(dataset, folder.parent)


def test_error_shows_without_traceback_in_jupyter() -> None:
    lines = DataError("Fashion-MNIST was not found.")._render_traceback_()
    assert len(lines) == 1 and "Fashion-MNIST was not found." in lines[0]


# ---------------------------------------------------------------- downloads
def test_fetch_downloads_verifies_and_is_idempotent(tiny_idx, tmp_path: Path) -> None:
    dataset, _, arrays = tiny_idx
    target = tmp_path / "fetched"
    folder = store.fetch(dataset, target)
    assert folder == target / "tiny"
    assert sorted(p.name for p in folder.iterdir()) == sorted(dataset.files)  # no staging left
    (_, y), _ = idx.load_idx_dataset(dataset, target)
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte.gz"])
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    store.fetch(dataset, target)  # already there: nothing downloaded again
    assert before == {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_fetch_replaces_a_corrupt_file(tiny_idx, tmp_path: Path) -> None:
    dataset, _, _ = tiny_idx
    folder = store.fetch(dataset, tmp_path / "fetched")
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"half a download")
    store.fetch(dataset, tmp_path / "fetched")
    store.verify(dataset, tmp_path / "fetched")


def test_download_with_wrong_checksum_leaves_nothing(tiny_idx, tmp_path: Path) -> None:
    dataset, _, _ = tiny_idx
    files = {**dataset.files, "train-images-idx3-ubyte.gz": "0" * 64}
    with pytest.raises(DataError, match="does not match its checksum"):
        store.fetch(dataclasses.replace(dataset, files=files), tmp_path / "fetched")
    folder = tmp_path / "fetched" / "tiny"
    left = [p.name for p in folder.iterdir()] if folder.exists() else []
    assert "train-images-idx3-ubyte.gz" not in left
    assert not [n for n in left if n.startswith(".download-")]


def test_no_network(tiny_idx, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on: the connection is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dataset, _, _ = tiny_idx
    offline = dataclasses.replace(dataset, mirrors=(f"http://127.0.0.1:{port}/tiny",))
    with pytest.raises(DataError) as info:
        store.fetch(offline, tmp_path / "fetched")
    message = str(info.value)
    assert "Could not download" in message and "internet connection" in message
    assert "--from FOLDER" in message
    assert not (tmp_path / "fetched" / "tiny").exists()  # no empty folder left behind


# ---------------------------------------------------------------- ATIS format
def write_atis(folder: Path, **overrides: str) -> Dataset:
    """A two-utterance ATIS in the CNTK index-CSV layout."""
    texts = {
        "atis.dict.vocab.csv": "BOS\nEOS\nfrom\nboston\n",
        "atis.dict.slots.csv": "B-fromloc.city_name\nO\n",
        "atis.dict.intent.csv": "airfare\nflight\n",
        "atis.train.query.csv": "0 2 3 1\n0 3 1\n",
        "atis.train.slots.csv": "1 1 0 1\n1 0 1\n",
        "atis.train.intent.csv": "1\n0\n",
        "atis.test.query.csv": "0 2 3 1\n",
        "atis.test.slots.csv": "1 1 0 1\n",
        "atis.test.intent.csv": "1\n",
    } | {k.replace("_", "."): v for k, v in overrides.items()}
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text)
    files = {name: sha(text.encode()) for name, text in texts.items()}
    return dataclasses.replace(atis.DATASET, files=files)


def test_atis_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atis, "DATASET", write_atis(tmp_path / "atis"))
    data = atis.load_atis(tmp_path)
    assert len(data.train) == 2 and len(data.test) == 1
    assert data.decode_words(data.train.queries[0]) == ["BOS", "from", "boston", "EOS"]
    assert data.decode_slots(data.train.slots[0])[2] == "B-fromloc.city_name"
    assert data.decode_intent(data.train.intents[1]) == "airfare"
    assert data.train.queries[0].dtype == np.int32
    np.testing.assert_array_equal(data.encode("From Boston"), [0, 2, 3, 1])
    with pytest.raises(ValueError, match="denver"):
        data.encode("from denver")
    np.testing.assert_array_equal(data.encode("from denver", unknown_id=4), [0, 2, 4, 1])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"atis_train_slots_csv": "1 1 0\n1 0 1\n"}, "4 words but 3 slot labels"),
        ({"atis_train_intent_csv": "1\n"}, "different line counts"),
        ({"atis_test_query_csv": "0 2 9 1\n"}, "outside 0-3"),
        ({"atis_test_query_csv": "0 two 3 1\n"}, "not a list of numbers"),
    ],
)
def test_atis_rejects_inconsistent_files(tmp_path: Path, monkeypatch, override, message) -> None:
    monkeypatch.setattr(atis, "DATASET", write_atis(tmp_path / "atis", **override))
    with pytest.raises(DataError, match=message):
        atis.load_atis(tmp_path)


# ---------------------------------------------------------------- the real data, where present
@pytest.fixture
def real_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the isolation: search the real locations (CI: /usr/share/datasets and ../shared)."""
    from conftest import SHARED_DATASETS

    monkeypatch.setattr(store, "default_data_dir", lambda: REPO_ROOT / "data")
    if SHARED_DATASETS.is_dir():
        monkeypatch.setenv("LABKIT_DATA_DIR", str(SHARED_DATASETS))


def test_real_fashion_mnist(real_search) -> None:
    dataset_or_skip("fashion-mnist")
    (x, y), (xt, yt) = fashion_mnist.load_fashion_mnist()
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert x.dtype == np.uint8 and y.dtype == np.uint8 and x.max() == 255
    assert sorted(np.unique(y)) == list(range(10)) and np.bincount(yt).tolist() == [1000] * 10
    assert len(fashion_mnist.CLASS_NAMES) == 10


def test_real_atis(real_search) -> None:
    dataset_or_skip("atis")
    data = atis.load_atis()
    assert (len(data.words), len(data.slot_labels), len(data.intent_labels)) == (943, 129, 26)
    assert (len(data.train), len(data.test)) == (4978, 893)
    words = data.decode_words(data.train.queries[0])
    assert " ".join(words).startswith("BOS i want to fly from boston at 838 am")
    slots = dict(zip(words, data.decode_slots(data.train.slots[0]), strict=True))
    assert slots["boston"] == "B-fromloc.city_name" and slots["BOS"] == "O"


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "labkit", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_cli_verify_and_where(real_search) -> None:
    dataset_or_skip("fashion-mnist")
    dataset_or_skip("atis")
    result = run_cli("data", "verify", "fashion-mnist", "atis")
    assert result.returncode == 0, result.stderr
    assert "fashion-mnist: verified in" in result.stdout and "atis: verified in" in result.stdout
    where = run_cli("data", "where")
    assert where.returncode == 0 and "atis: " in where.stdout


def test_cli_missing_dataset_says_what_to_do(tmp_path: Path) -> None:
    result = run_cli(
        "data",
        "verify",
        "mnist",
        "--data-dir",
        str(tmp_path),
        env={"LABKIT_DATA_DIR": str(tmp_path)},
    )
    if "mnist: OK" in result.stdout:
        pytest.skip("MNIST is present in the repository's data/ on this machine")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "python -m labkit data fetch mnist" in result.stderr


def test_cli_unknown_dataset() -> None:
    result = run_cli("data", "fetch", "cifar")
    assert result.returncode == 2 and "invalid choice" in result.stderr
