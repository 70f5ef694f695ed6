"""labkit.lab.slot_filling, what labs 06 and 07 share: model ids, batches, prediction, Viterbi, scores."""

from __future__ import annotations

import itertools

import numpy as np

from labkit.datasets.atis import Atis, AtisSplit
from labkit.lab.slot_filling import PAD, SlotFilling, allowed_transitions, joint_bilstm, viterbi

WORDS = ("BOS", "EOS", "flights", "from", "to", "boston", "new", "york", "on", "123", "denver")
LABELS = ("O", "B-fromloc", "B-toloc", "I-toloc", "B-flight_number")
INTENTS = ("flight", "airfare")


def _split(sentences: list[tuple[str, str, int]]) -> AtisSplit:
    ids = {w: i for i, w in enumerate(WORDS)}
    queries = [np.array([ids[w] for w in words.split()], np.int32) for words, _, _ in sentences]
    slots = [
        np.array([LABELS.index(s) for s in tags.split()], np.int32) for _, tags, _ in sentences
    ]
    return AtisSplit(queries, slots, np.array([i for _, _, i in sentences], np.int32))


# "denver" and "123" never occur in the training sentences
ATIS = Atis(
    train=_split(
        [
            ("BOS flights from boston to new york EOS", "O O O B-fromloc O B-toloc I-toloc O", 0),
            ("BOS flights to boston EOS", "O O O B-toloc O", 1),
            ("BOS from new york on EOS", "O O B-fromloc O O O", 0),
        ]
    ),
    test=_split(
        [
            ("BOS flights to denver EOS", "O O O B-toloc O", 0),
            (
                "BOS flights from boston to new york on 123 EOS",
                "O O O B-fromloc O B-toloc I-toloc O B-flight_number O",
                1,
            ),
        ]
    ),
    words=WORDS,
    slot_labels=LABELS,
    intent_labels=INTENTS,
)


def test_model_ids_shift_the_known_words_and_give_unknown_ones_an_id_by_shape() -> None:
    task = SlotFilling(ATIS)
    assert task.vocab_size == len(WORDS) + 4
    assert task.model_id("boston") == WORDS.index("boston") + 1
    assert task.model_id("denver") == task.unk_word  # in the vocabulary, but never in training
    assert task.model_id("4711") == task.unk_number
    assert task.model_id("ua4711") == task.unk_code
    assert task.model_id("gotham") == task.unk_word
    query = ATIS.test.queries[0]
    assert task.to_model_ids(query).tolist() == [1, 3, 5, task.unk_word, 2]
    words, x = task.encode("Flights to Gotham")
    assert words == ["BOS", "flights", "to", "gotham", "EOS"] and x.shape == (1, 5)
    # word dropout: a model id -> its unknown id; the padding stays the padding
    assert task.unknown_of[PAD] == PAD
    assert task.unknown_of[task.model_id("boston")] == task.unk_word
    assert task.unknown_of[task.unk_number] == task.unk_number
    padded = task.pad(ATIS.test.queries)
    assert padded.shape == (2, 10) and padded.dtype == np.int32 and (padded[0, 5:] == PAD).all()


def test_allowed_transitions_only_let_i_follow_its_own_b_or_i() -> None:
    allowed = allowed_transitions(LABELS)
    i_to = LABELS.index("I-toloc")
    assert allowed[LABELS.index("B-toloc"), i_to] and allowed[i_to, i_to]
    assert not allowed[LABELS.index("O"), i_to] and not allowed[LABELS.index("B-fromloc"), i_to]
    assert allowed[:, LABELS.index("O")].all() and allowed[:, LABELS.index("B-toloc")].all()


def test_viterbi_finds_the_most_probable_valid_sequence() -> None:
    allowed = allowed_transitions(LABELS)
    rng = np.random.default_rng(0)
    for _ in range(20):
        probs = rng.dirichlet(np.full(len(LABELS), 0.3), size=4)
        valid = [
            seq
            for seq in itertools.product(range(len(LABELS)), repeat=4)
            if all(allowed[a, b] for a, b in itertools.pairwise(seq))
        ]
        best = max(valid, key=lambda seq: np.prod(probs[np.arange(4), seq]))
        assert viterbi(probs, allowed).tolist() == list(best)
    # a greedy choice of I-toloc after O is repaired
    probs = np.full((2, len(LABELS)), 0.01)
    probs[0, LABELS.index("O")], probs[1, LABELS.index("I-toloc")] = 0.9, 0.5
    probs[1, LABELS.index("B-toloc")] = 0.4
    assert viterbi(probs, allowed).tolist() == [LABELS.index("O"), LABELS.index("B-toloc")]


def test_batches_group_similar_lengths_and_never_drop_bos_or_eos() -> None:
    import tensorflow as tf

    task = SlotFilling(ATIS)
    tf.random.set_seed(0)
    ds = task.batches(ATIS.train, batch_size=2, buckets=(6,), word_dropout=1.0)
    assert len(ds) == 2  # the two short sentences together, the long one alone
    seen = 0
    for x, y in ds:
        x = x.numpy()
        assert y["slots"].shape == x.shape and y["intent"].shape == (len(x), len(INTENTS))
        for row in x:
            n = int((row != PAD).sum())
            assert row[0] == task.model_id("BOS") and row[n - 1] == task.model_id("EOS")
            assert set(row[1 : n - 1]) <= set(task.unknown_ids)  # every inner word dropped
            seen += 1
    assert seen == len(ATIS.train)


class _Oracle:
    """A stand-in for a model: the true labels of the test set, but I-toloc for every B-toloc
    (an invalid sequence that Viterbi repairs), and always the intent 'flight'."""

    def __init__(self, task: SlotFilling) -> None:
        self.by_ids = {
            tuple(task.to_model_ids(q)): s
            for q, s in zip(ATIS.test.queries, ATIS.test.slots, strict=True)
        }

    def __call__(self, x, training=False):
        slots = np.zeros((*x.shape, len(LABELS)), np.float32)
        for r, row in enumerate(x):
            labels = self.by_ids[tuple(row[row != PAD])]
            for t, label in enumerate(labels):
                if LABELS[label] == "B-toloc":
                    slots[r, t, LABELS.index("I-toloc")] = 0.6
                    slots[r, t, label] = 0.4
                else:
                    slots[r, t, label] = 1.0
        intent = np.tile(np.eye(len(INTENTS), dtype=np.float32)[0], (len(x), 1))
        return {"slots": slots, "intent": intent}


def test_predict_iob_tags_and_scores() -> None:
    task = SlotFilling(ATIS)
    model = _Oracle(task)
    slot_ids, intent_ids = task.predict(model, ATIS.test.queries, batch_size=1)
    assert intent_ids.tolist() == [0, 0]
    assert task.iob_tags(slot_ids)[0] == ["O", "O", "I-toloc"]  # BOS and EOS left out
    repaired, _ = task.predict(model, ATIS.test.queries, decode=task.viterbi)
    assert task.iob_tags(repaired)[0] == ["O", "O", "B-toloc"]
    assert task.iob_tags(repaired) == task.true_tags
    assert task.scores(model, decode=task.viterbi) == {"slot F1": 1.0, "intent accuracy": 0.5}


def test_joint_bilstm_is_lab_06s_model() -> None:
    model = joint_bilstm(vocab_size=20, n_slots=len(LABELS), n_intents=len(INTENTS))
    out = model(np.array([[1, 3, 5, 2, 0]], np.int32), training=False)
    assert out["slots"].shape == (1, 5, len(LABELS)) and out["intent"].shape == (1, len(INTENTS))
    assert model.count_params() == 20 * 150 + 2 * 4 * (200 * (150 + 200) + 200) + 401 * 5 + 801 * 2


def test_joint_bilstm_intent_ignores_the_padding() -> None:
    import keras

    keras.utils.set_random_seed(0)
    model = joint_bilstm(vocab_size=20, n_slots=len(LABELS), n_intents=len(INTENTS), units=8)
    alone = model(np.array([[1, 3, 5, 2]], np.int32), training=False)["intent"]
    padded = model(np.array([[1, 3, 5, 2, 0, 0, 0]], np.int32), training=False)["intent"]
    np.testing.assert_allclose(padded, alone, rtol=1e-5, atol=1e-6)
