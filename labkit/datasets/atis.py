"""ATIS: air-travel questions with a slot label per word and an intent per question.

The files are the CNTK language-understanding release in its "index CSV" layout:
``atis.dict.{vocab,slots,intent}.csv`` hold one name per line (the id is the line
number), ``atis.{train,test}.query.csv`` one utterance per line as word ids
(``BOS ... EOS`` included), ``.slots.csv`` the slot ids of the same words and
``.intent.csv`` one intent id per utterance.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labkit.datasets import store
from labkit.datasets.store import Dataset
from labkit.errors import DataError

DATASET = Dataset(
    name="atis",
    title="ATIS (slot filling)",
    files={
        "atis.dict.vocab.csv": "81354b8b70610e3ee560f38ee366fc574f0b71e3f4b14c955935b8e4779c865c",
        "atis.dict.slots.csv": "9da4302a6a1065dd8742d87338ba842ba9c018623e36c84f431e6620c5cd1fd6",
        "atis.dict.intent.csv": "9737db351b2fd5cdc9219c3cf1e4b31468f4d9d049166ec2d4be682cd3d818fd",
        "atis.train.query.csv": "786fe1baab85080d027d10582f99559952cb3e1a9da532a9fc6ce0ae1205372e",
        "atis.train.slots.csv": "fd118158260901ba632ca810907ce0d8431283f0bb80ee95b8c76c29a5b69b05",
        "atis.train.intent.csv": "92b1fad4cd17bc8eb90215382f56c8e56e1616bc2b5e2fcac094934649010eff",
        "atis.test.query.csv": "e1dc07203dca048ba62d2f5a28fe02da56553dfc95fd0040f5ec115f1ce64440",
        "atis.test.slots.csv": "eb349ca1bb463b9080d258f5feba7ed03a9a6ce3995f333612aab7ab53e08806",
        "atis.test.intent.csv": "401b990ae4b8cc91509f822c8f0d879abc1c2cad386ef215be7cafddc13c5c76",
    },
    mirrors=(
        "https://github.com/howl-anderson/ATIS_dataset/raw/master/data/raw_data/ms-cntk-atis",
    ),
)


@dataclass(frozen=True)
class AtisSplit:
    """One split: ``queries[i]`` and ``slots[i]`` are ``int32`` arrays of the same length
    (word ids and slot-label ids of utterance ``i``, ``BOS``/``EOS`` included);
    ``intents`` is an ``int32`` array with one intent id per utterance."""

    queries: list[np.ndarray]
    slots: list[np.ndarray]
    intents: np.ndarray

    def __len__(self) -> int:
        return len(self.queries)


@dataclass(frozen=True)
class Atis:
    """The ATIS splits and the id-to-name vocabularies (``words``, ``slot_labels``, ``intent_labels``)."""

    train: AtisSplit
    test: AtisSplit
    words: tuple[str, ...]
    slot_labels: tuple[str, ...]
    intent_labels: tuple[str, ...]

    @property
    def word_ids(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def decode_words(self, ids: Sequence[int]) -> list[str]:
        """Word ids to words."""
        return [self.words[int(i)] for i in ids]

    def decode_slots(self, ids: Sequence[int]) -> list[str]:
        """Slot-label ids to IOB labels such as ``B-fromloc.city_name``."""
        return [self.slot_labels[int(i)] for i in ids]

    def decode_intent(self, intent_id: int) -> str:
        return self.intent_labels[int(intent_id)]

    def encode(self, sentence: str, unknown_id: int | None = None) -> np.ndarray:
        """Word ids of a sentence, lower-cased, with ``BOS``/``EOS`` added.

        ATIS has no unknown-word token: words outside the vocabulary map to
        ``unknown_id`` when given, and raise a ValueError naming them otherwise.
        """
        ids = self.word_ids
        words = ["BOS", *sentence.lower().split(), "EOS"]
        unknown = [w for w in words if w not in ids]
        if unknown and unknown_id is None:
            raise ValueError(f"not in the ATIS vocabulary: {', '.join(unknown)}")
        return np.array([ids.get(w, unknown_id) for w in words], dtype=np.int32)


def load_atis(data_dir: str | os.PathLike | None = None, download: bool = True) -> Atis:
    """Load ATIS, verified against its checksums (downloaded first when it is not on this
    machine and ``download`` is true): 4978 training and 893 test utterances, 943 words,
    129 slot labels, 26 intents."""
    folder = store.obtain(DATASET, data_dir, download)

    def lines(name: str) -> list[str]:
        text = store.read_file(DATASET, folder, name).decode("utf-8")
        return text.splitlines()

    words = tuple(lines("atis.dict.vocab.csv"))
    slot_labels = tuple(lines("atis.dict.slots.csv"))
    intent_labels = tuple(lines("atis.dict.intent.csv"))

    def split(name: str) -> AtisSplit:
        queries = _id_rows(lines(f"atis.{name}.query.csv"), len(words), f"atis.{name}.query.csv")
        slots = _id_rows(
            lines(f"atis.{name}.slots.csv"), len(slot_labels), f"atis.{name}.slots.csv"
        )
        intents = _id_rows(
            lines(f"atis.{name}.intent.csv"), len(intent_labels), f"atis.{name}.intent.csv"
        )
        if not (len(queries) == len(slots) == len(intents)):
            raise DataError(f"ATIS {name}: queries, slots and intents have different line counts.")
        for i, (q, s) in enumerate(zip(queries, slots, strict=True)):
            if len(q) != len(s):
                raise DataError(
                    f"ATIS {name} line {i + 1}: {len(q)} words but {len(s)} slot labels."
                )
        return AtisSplit(queries, slots, np.array([row[0] for row in intents], dtype=np.int32))

    return Atis(split("train"), split("test"), words, slot_labels, intent_labels)


def _id_rows(rows: list[str], size: int, source: str) -> list[np.ndarray]:
    """Parse lines of space-separated ids, each checked to be in ``range(size)``."""
    parsed = []
    for n, row in enumerate(rows, start=1):
        try:
            ids = np.array(row.split(), dtype=np.int32)
        except ValueError:
            raise DataError(f"{source} line {n} is not a list of numbers: {row[:60]!r}") from None
        if ids.size == 0 or ids.min() < 0 or ids.max() >= size:
            raise DataError(f"{source} line {n} has an id outside 0-{size - 1} (or is empty).")
        parsed.append(ids)
    return parsed
