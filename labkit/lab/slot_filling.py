"""Slot filling on ATIS as a model sees it: what labs 06 (RNNs) and 07 (Transformers) share.

``SlotFilling(atis)`` holds the ids a model reads (0 for the padding, ATIS id + 1 for the words
of the training set, three unknown ids for the others, chosen by the word's shape), the training
batches (sentences of similar lengths, word dropout), prediction, Viterbi decoding of valid IOB
label sequences, and the scores (seqeval's chunk F1 for the slots, accuracy for the intent).
``joint_bilstm`` is lab 06's joint slot and intent model, which lab 07 trains again beside its
Transformer.

TensorFlow and Keras are imported by the functions that need them, so importing this is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from labkit.datasets.atis import Atis, AtisSplit

PAD = 0
BATCH_SIZE = 32
BUCKETS = (8, 12, 16, 20, 26)  # a new bucket of sentence lengths starts at each of these
WORD_DROPOUT = 0.05  # the share of words replaced by their unknown id during training

Decoder = Callable[[np.ndarray], np.ndarray]  # label probabilities (words, labels) -> label ids


def allowed_transitions(labels: Sequence[str]) -> np.ndarray:
    """``allowed[i, j]``: may label j follow label i? ``I-X`` only after ``B-X`` or ``I-X``."""
    allowed = np.ones((len(labels), len(labels)), dtype=bool)
    for j, label in enumerate(labels):
        if label.startswith("I-"):
            allowed[:, j] = [prev in ("B-" + label[2:], label) for prev in labels]
    return allowed


def viterbi(probs: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """The most probable label sequence whose transitions are all allowed, for the label
    probabilities ``probs`` of one sentence (words, labels)."""
    transition = np.where(allowed, 0.0, -np.inf)  # log-probability of a transition: 0 or never
    log_p = np.log(np.asarray(probs, np.float64) + 1e-9)
    score, backpointers = log_p[0], []
    for t in range(1, len(log_p)):
        candidates = score[:, None] + transition  # (label at t - 1, label at t)
        backpointers.append(candidates.argmax(axis=0))
        score = candidates.max(axis=0) + log_p[t]
    best = [int(score.argmax())]
    for pointers in reversed(backpointers):
        best.append(int(pointers[best[-1]]))
    return np.array(best[::-1])


def _ragged(arrays: Sequence[np.ndarray]) -> Any:
    import tensorflow as tf

    return tf.RaggedTensor.from_row_lengths(np.concatenate(arrays), [len(a) for a in arrays])


class SlotFilling:
    """ATIS for a tagger: model ids, training batches, predictions, Viterbi decoding, scores."""

    def __init__(self, atis: Atis) -> None:
        self.atis = atis
        n_words = len(atis.words)
        self.seen_in_train = np.zeros(n_words, dtype=bool)
        self.seen_in_train[np.concatenate(atis.train.queries)] = True
        self.unk_word, self.unk_number, self.unk_code = n_words + 1, n_words + 2, n_words + 3
        self.vocab_size = n_words + 4  # the padding, the words, three unknown ids
        self.o_id = atis.slot_labels.index("O")
        self._word_index = atis.word_ids
        # ATIS id -> model id, and model id -> its unknown id (word dropout); padding stays padding
        self.model_ids = np.array([self.model_id(w) for w in atis.words], dtype=np.int32)
        self.unknown_of = np.array(
            [PAD, *(self.unknown_id(w) for w in atis.words), *self.unknown_ids], dtype=np.int32
        )
        self.allowed = allowed_transitions(atis.slot_labels)
        self.true_tags = self.iob_tags(atis.test.slots)

    # ------------------------------------------------------------- words -> model ids
    @property
    def unknown_ids(self) -> tuple[int, int, int]:
        return self.unk_word, self.unk_number, self.unk_code

    def unknown_id(self, word: str) -> int:
        """The unknown id of a word, from its shape: a number, a code with digits, or a word."""
        if word.isdigit():
            return self.unk_number
        if any(ch.isdigit() for ch in word):
            return self.unk_code
        return self.unk_word

    def model_id(self, word: str) -> int:
        """ATIS id + 1 when the training set has the word, else its unknown id."""
        i = self._word_index.get(word)
        return i + 1 if i is not None and self.seen_in_train[i] else self.unknown_id(word)

    def to_model_ids(self, query: np.ndarray) -> np.ndarray:
        """The ATIS word ids of one utterance as model ids."""
        return self.model_ids[query]

    def encode(self, sentence: str) -> tuple[list[str], np.ndarray]:
        """Any sentence, lower-cased, with BOS and EOS: its words and a batch of one (1, words)."""
        words = ["BOS", *sentence.lower().split(), "EOS"]
        return words, np.array([[self.model_id(w) for w in words]], dtype=np.int32)

    def pad(self, queries: Sequence[np.ndarray]) -> np.ndarray:
        """ATIS utterances as model ids, zero-padded at the end to the longest: (queries, words)."""
        import keras

        return keras.utils.pad_sequences(
            [self.to_model_ids(q) for q in queries], padding="post", value=PAD, dtype="int32"
        )

    # ------------------------------------------------------------- training batches
    def batches(
        self,
        split: AtisSplit,
        n: int | None = None,
        batch_size: int = BATCH_SIZE,
        buckets: Sequence[int] = BUCKETS,
        word_dropout: float = WORD_DROPOUT,
        seed: int = 0,
    ) -> Any:
        """A ``tf.data.Dataset`` of ``(x, {"slots": y, "intent": one-hot})`` over the first `n`
        utterances: reshuffled every epoch, each batch of sentences of similar lengths padded
        to its longest, a share `word_dropout` of the words (never BOS or EOS) replaced by
        their unknown id, the next batch prepared while the model trains."""
        import tensorflow as tf

        queries, slots, intents = split.queries[:n], split.slots[:n], split.intents[:n]
        unknown_of, n_intents = tf.constant(self.unknown_of), len(self.atis.intent_labels)

        def drop_words(x, y, intent):
            position = tf.range(tf.size(x))
            inner = (position > 0) & (position < tf.size(x) - 1)  # never BOS or EOS
            drop = inner & (tf.random.uniform(tf.shape(x)) < word_dropout)
            return tf.where(drop, tf.gather(unknown_of, x), x), y, intent

        ds = tf.data.Dataset.from_tensor_slices(
            (_ragged([self.to_model_ids(q) for q in queries]), _ragged(slots), intents)
        )
        ds = ds.cache().shuffle(len(queries), seed=seed).map(drop_words)
        ds = ds.bucket_by_sequence_length(
            lambda x, y, intent: tf.size(x),
            bucket_boundaries=list(buckets),
            bucket_batch_sizes=[batch_size] * (len(buckets) + 1),
            padding_values=(PAD, self.o_id, 0),
        )
        # the intent as a one-hot vector, so that the loss can smooth the labels
        ds = ds.map(lambda x, y, i: (x, {"slots": y, "intent": tf.one_hot(i, n_intents)}))
        steps = sum(1 for _ in ds)  # the number of batches, so that Keras knows an epoch's length
        return ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------- predictions and scores
    def predict(
        self,
        model: Any,
        queries: Sequence[np.ndarray],
        decode: Decoder | None = None,
        batch_size: int = 256,
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        """Slot-label ids (one array per query) and intent ids (None without an intent output).

        Sentences of similar lengths are predicted together; `decode` turns a sentence's label
        probabilities (words x labels) into label ids (default: each word's most probable)."""
        import keras

        order = np.argsort([len(q) for q in queries], kind="stable")
        slot_ids: list[Any] = [None] * len(queries)
        intent_ids = np.zeros(len(queries), dtype=np.int32)
        has_intent = False
        for start in range(0, len(queries), batch_size):
            rows = order[start : start + batch_size]
            out = model(self.pad([queries[i] for i in rows]), training=False)
            probs = keras.ops.convert_to_numpy(out["slots"])
            for r, i in enumerate(rows):
                p = probs[r, : len(queries[i])]
                slot_ids[i] = decode(p) if decode else p.argmax(axis=-1)
            if "intent" in out:
                has_intent = True
                intent_ids[rows] = np.argmax(keras.ops.convert_to_numpy(out["intent"]), axis=-1)
        return slot_ids, (intent_ids if has_intent else None)

    def viterbi(self, probs: np.ndarray) -> np.ndarray:
        """The most probable valid IOB label sequence (``I-X`` only after ``B-X`` or ``I-X``)."""
        return viterbi(probs, self.allowed)

    def iob_tags(self, slot_id_lists: Sequence[np.ndarray]) -> list[list[str]]:
        """Slot-label ids -> IOB labels, BOS and EOS left out (what seqeval scores)."""
        return [self.atis.decode_slots(ids[1:-1]) for ids in slot_id_lists]

    def scores(self, model: Any, decode: Decoder | None = None) -> dict[str, float]:
        """On the test set: the slots' chunk F1 (seqeval) and, with an intent output, the intent
        accuracy."""
        from seqeval.metrics import f1_score

        test = self.atis.test
        slot_ids, intent_ids = self.predict(model, test.queries, decode)
        found = {"slot F1": float(f1_score(self.true_tags, self.iob_tags(slot_ids)))}
        if intent_ids is not None:
            found["intent accuracy"] = float(np.mean(intent_ids == test.intents))
        return found


def max_over_words(sequence: Any, inputs: Any) -> Any:
    """For each feature of ``sequence`` (batch, time, features), its maximum over the real
    words of ``inputs`` (batch, time), the padding left out."""
    import keras

    is_word = keras.ops.expand_dims(keras.ops.not_equal(inputs, PAD), -1)
    return keras.ops.max(keras.ops.where(is_word, sequence, -1e9), axis=1)


def joint_bilstm(
    vocab_size: int, n_slots: int, n_intents: int, emb_dim: int = 150, units: int = 200
) -> Any:
    """Lab 06's joint model: Embedding (masking the padding) -> SpatialDropout1D -> BiLSTM;
    its states at every word feed the slots, its two final states and each feature's maximum
    over the words the intent."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(None,), dtype="int32", name="words")
    x = layers.Embedding(vocab_size, emb_dim, mask_zero=True)(inputs)
    x = layers.SpatialDropout1D(0.25)(x)
    sequence, forward_h, _, backward_h, _ = layers.Bidirectional(
        layers.LSTM(units, return_sequences=True, return_state=True)
    )(x)
    slots = layers.Dense(n_slots, activation="softmax", name="slots")(layers.Dropout(0.3)(sequence))
    sentence = layers.Concatenate()([forward_h, backward_h, max_over_words(sequence, inputs)])
    intent = layers.Dense(n_intents, activation="softmax", name="intent")(
        layers.Dropout(0.3)(sentence)
    )
    return keras.Model(inputs, {"slots": slots, "intent": intent}, name="joint_bilstm")
