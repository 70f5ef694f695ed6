"""Lab 10 (language models on ATIS): the solution runs on the real data, the checks judge well,
and the n-gram and the helpers the notebook imports compute what they say."""

from __future__ import annotations

import numpy as np
import pytest
from check_catalogue import Case, verdict_tests
from conftest import dataset_or_skip
from notebook_helpers import run_lab

from labkit.checks import Status, lab10, language
from labkit.lab import language_models as lm

LAB = "10_language_models"
NOT_ATTEMPTED, INCORRECT = Status.NOT_ATTEMPTED, Status.INCORRECT


# ------------------------------------------------------------------ the notebook (fast mode)
@pytest.mark.notebook
def test_solution_runs_in_fast_mode_and_reports_sane_metrics() -> None:
    dataset_or_skip("atis")
    run = run_lab(LAB)
    assert not run.errors, run.errors
    m = run.metrics
    assert m["fast_mode"]
    # 800 training questions: the n-gram is far below the 5.3 bits of knowing nothing (1.18
    # seen); one epoch of a tiny GRU is not (4.6 seen), but it is a number of bits.
    assert 0.5 < m["ngram_bpc"] < 2.0, m
    assert all(0.5 < m[name] < 6.0 for name in ("gru_bpc", "lstm_bpc", "transformer_bpc")), m
    # random vectors' share is the share of city words, about 0.06 (0.97 seen after one epoch)
    assert 0.3 < m["city_neighbour_share"] <= 1.0, m
    assert 0.0 <= m["new_question_share"] <= 1.0 and 0.0 <= m["known_word_share"] <= 1.0, m
    assert 0 < m["train_seconds"] < 60, m
    assert m["challenge_met"] in (0, 1)


# ------------------------------------------------------------------ right answers
def _window_pairs(word_ids, window):
    pairs = [
        (word_ids[i], word_ids[j])
        for i in range(len(word_ids))
        for j in range(max(0, i - window), min(len(word_ids), i + window + 1))
        if j != i
    ]
    return np.array(pairs, np.int32).reshape(-1, 2)


def _noise(counts):
    weights = np.asarray(counts, np.float64) ** 0.75
    return weights / weights.sum()


def _sgns_loss(centre, context, negatives):
    import tensorflow as tf

    positive = tf.reduce_sum(centre * context, axis=-1)
    negative = tf.einsum("bd,bkd->bk", centre, negatives)
    per_pair = -tf.math.log_sigmoid(positive) - tf.reduce_sum(
        tf.math.log_sigmoid(-negative), axis=-1
    )
    return tf.reduce_mean(per_pair)


def _gru_step(x_t, h_prev, kernel, recurrent_kernel, bias):
    import tensorflow as tf

    x_z, x_r, x_h = tf.split(x_t @ kernel + bias[0], 3, axis=-1)
    h_z, h_r, h_h = tf.split(h_prev @ recurrent_kernel + bias[1], 3, axis=-1)
    z, r = tf.sigmoid(x_z + h_z), tf.sigmoid(x_r + h_r)
    return z * h_prev + (1 - z) * tf.tanh(x_h + r * h_h)


def _sample(scale=1.0, top_k_shift=0, argmax=False, keep_smallest=False):
    def sample_next(logits, temperature=1.0, top_k=0, rng=None):
        scaled = np.asarray(logits, np.float64) / temperature * scale
        k = top_k + top_k_shift if top_k else 0
        if k:
            order = np.argsort(scaled, axis=-1)
            keep = order[:, :k] if keep_smallest else order[:, -k:]
            mask = np.zeros(scaled.shape, bool)
            np.put_along_axis(mask, keep, True, axis=-1)
            scaled = np.where(mask, scaled, -np.inf)
        if argmax:
            return scaled.argmax(axis=-1)
        probs = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        u = rng.random((len(probs), 1))
        return np.minimum((np.cumsum(probs, axis=-1) < u).sum(-1), probs.shape[-1] - 1)

    return sample_next


def _causal_mask(length):
    import tensorflow as tf

    positions = tf.range(length)
    return positions[:, None] >= positions[None, :]


def _corpus() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """ATIS-like questions from templates with random flight numbers (seeded), training and
    validation ids: long contexts are unreliable, so the best n-gram smooths strongly (order
    10, strength 30), far from the weak smoothing of the fuzzed strengths (1, 2.5, 3.5)."""
    rng = np.random.default_rng(10)
    cities = ["boston", "denver", "dallas", "atlanta", "san francisco", "pittsburgh"]
    cities += ["baltimore", "oakland"]
    days = ["monday", "tuesday", "friday", "sunday", "next week"]
    templates = [
        "flights from {} to {} on {} flight {}",
        "show me fares from {} to {} {} at {}",
        "i want to fly from {} to {} {} before {} pm",
        "what is flight {3} from {0}",
    ]

    def question() -> str:
        a, b = rng.choice(cities, 2, replace=False)
        template = str(rng.choice(templates))
        return template.format(a, b, rng.choice(days), rng.integers(1, 3000))

    texts = [question() for _ in range(300)]
    chars = lm.Chars(texts)
    ids = [chars.encode(t) for t in texts]
    return ids[:240], ids[240:]


_TRAIN, _VALID = _corpus()


def _best_ngram() -> tuple[int, float]:
    return language.ngram_outcome(_TRAIN, _VALID, 1, 1.0)[2]


def answers() -> dict[str, dict]:
    """A right answer to every exercise: the namespace its check reads."""
    order, strength = _best_ngram()
    return {
        "q1": {"window_pairs": _window_pairs, "noise_distribution": _noise},
        "q2": {"sgns_loss": _sgns_loss},
        "q3": {"ORDER": order, "STRENGTH": strength, "train_ids": _TRAIN, "valid_ids": _VALID},
        "q4": {"gru_step": _gru_step},
        "q5": {"sample_next": _sample()},
        "q6": {"causal_mask": _causal_mask},
    }


# ------------------------------------------------------------------ wrong answers
def _placeholder(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code.")


def _q1_cases(right: dict) -> list[Case]:
    def pairs(**changes):
        def window_pairs(word_ids, window):
            window = window + changes.get("wider", 0)
            found = [
                (word_ids[i], word_ids[j])
                for i in range(len(word_ids))
                for j in range(
                    i if changes.get("forward") else max(0, i - window),
                    min(len(word_ids), i + window + 1),
                )
                if j != i or changes.get("itself")
            ]
            return np.array(found, changes.get("dtype", np.int32)).reshape(-1, 2)

        return {**right, "window_pairs": window_pairs}

    def noise(f):
        return {**right, "noise_distribution": f}

    return [
        Case(pairs(itself=True), INCORRECT, "itself"),
        Case(pairs(forward=True), INCORRECT, "before it too"),
        Case(pairs(wider=-1), INCORRECT, "too narrow"),
        Case(pairs(wider=1), INCORRECT, "too wide"),
        Case(pairs(dtype=np.float32), INCORRECT, "integers"),
        Case({**right, "window_pairs": lambda w, k: np.array(w)}, INCORRECT, "(pairs, 2)"),
        Case(noise(lambda c: np.asarray(c) / np.sum(c)), INCORRECT, "unigram"),
        Case(noise(lambda c: np.asarray(c, float) ** 0.75), INCORRECT, "sum to 1"),
        Case(noise(lambda c: (np.asarray(c) / np.sum(c)) ** 0.75), INCORRECT, "normalise after"),
        Case(noise(lambda c: np.full(len(c), 1 / len(c))), INCORRECT, "uniform"),
        Case({}, NOT_ATTEMPTED, "not defined yet"),
        Case({**right, "window_pairs": _placeholder}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q2_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    def scores(v, u, n):
        return tf.reduce_sum(v * u, -1), tf.einsum("bd,bkd->bk", v, n)

    def naive(v, u, n):
        pos, neg = scores(v, u, n)
        return tf.reduce_mean(
            -tf.math.log(tf.sigmoid(pos)) - tf.reduce_sum(tf.math.log(tf.sigmoid(-neg)), -1)
        )

    def loss(f):
        return {"sgns_loss": f}

    ls = tf.math.log_sigmoid
    return [
        Case(loss(lambda v, u, n: 4 * _sgns_loss(v, u, n)), INCORRECT, "not the sum"),
        Case(
            loss(
                lambda v, u, n: tf.reduce_mean(
                    -ls(scores(v, u, n)[0]) - tf.reduce_sum(ls(scores(v, u, n)[1]), -1)
                )
            ),
            INCORRECT,
            "minus sign",
        ),
        Case(
            loss(
                lambda v, u, n: tf.reduce_mean(
                    -ls(scores(v, u, n)[0]) - tf.reduce_mean(ls(-scores(v, u, n)[1]), -1)
                )
            ),
            INCORRECT,
            "do not average",
        ),
        Case(
            loss(lambda v, u, n: tf.reduce_mean(-ls(scores(v, u, n)[0]))),
            INCORRECT,
            "negatives are missing",
        ),
        Case(loss(lambda v, u, n: -_sgns_loss(v, u, n)), INCORRECT, "reversed"),
        Case(loss(naive), INCORRECT, "tf.math.log_sigmoid"),
        Case(
            loss(
                lambda v, u, n: -ls(scores(v, u, n)[0]) - tf.reduce_sum(ls(-scores(v, u, n)[1]), -1)
            ),
            INCORRECT,
            "one number",
        ),
        Case(loss(_placeholder), NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q3_cases(right: dict) -> list[Case]:
    def choice(**changes):
        return {**right, **changes}

    return [
        Case(choice(ORDER=1, STRENGTH=1), INCORRECT, "within 1%"),
        Case(choice(ORDER=3, STRENGTH=100), INCORRECT, "within 1%"),
        Case(choice(ORDER=11), INCORRECT, "from 1 to 10"),
        Case(choice(ORDER=0), INCORRECT, "at least 1"),
        Case(choice(ORDER="7"), INCORRECT, "whole number"),
        Case(choice(STRENGTH=0), INCORRECT, "from 1e-06"),
        Case(choice(STRENGTH=float("nan")), INCORRECT, "from 1e-06"),
        Case(choice(train_ids="the questions"), INCORRECT, "part 3 again"),
        Case(choice(valid_ids=[np.array([1.5, 2.0])]), INCORRECT, "part 3 again"),
        Case(choice(valid_ids=[]), INCORRECT, "part 3 again"),
        Case(choice(ORDER=...), NOT_ATTEMPTED, "not defined yet"),
    ]


def _q4_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    def gru(order="zrh", swap=False, reset_before=False, no_reset=False, candidate=tf.tanh):
        def step(x_t, h_prev, kernel, recurrent_kernel, bias):
            xs = dict(zip(order, tf.split(x_t @ kernel + bias[0], 3, axis=-1), strict=True))
            hs = dict(
                zip(order, tf.split(h_prev @ recurrent_kernel + bias[1], 3, axis=-1), strict=True)
            )
            z, r = tf.sigmoid(xs["z"] + hs["z"]), tf.sigmoid(xs["r"] + hs["r"])
            if reset_before:
                u_h = tf.split(recurrent_kernel, 3, axis=-1)[2]
                hh = candidate(xs["h"] + (r * h_prev) @ u_h + tf.split(bias[1], 3)[2])
            else:
                hh = candidate(xs["h"] + (1.0 if no_reset else r) * hs["h"])
            return (1 - z) * h_prev + z * hh if swap else z * h_prev + (1 - z) * hh

        return {"gru_step": step}

    return [
        Case(gru(swap=True), INCORRECT, "swapped"),
        Case(gru(order="rzh"), INCORRECT, "wrong order"),
        Case(gru(reset_before=True), INCORRECT, "reset_after"),
        Case(gru(no_reset=True), INCORRECT, "reset gate is missing"),
        Case(gru(candidate=tf.sigmoid), INCORRECT, "tanh"),
        Case({"gru_step": lambda *a: tf.concat([_gru_step(*a)] * 3, -1)}, INCORRECT, "(2, 9)"),
        Case({"gru_step": _placeholder}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q5_cases(right: dict) -> list[Case]:
    def sample(f):
        return {"sample_next": f}

    return [
        Case(sample(_sample(argmax=True)), INCORRECT, "most probable"),
        Case(sample(_sample(scale=0.25)), INCORRECT, "multiplied by the temperature"),
        Case(sample(_sample(top_k_shift=1)), INCORRECT, "not top_k = 3"),
        Case(sample(_sample(top_k_shift=-1)), INCORRECT, "not top_k = 3"),
        Case(sample(_sample(keep_smallest=True)), INCORRECT, "k smallest"),
        Case(sample(lambda lg, t, k, rng: _sample()(lg, t, 0, rng)), INCORRECT, "top_k is ignored"),
        Case(sample(lambda lg, t, k, rng: _sample()(lg, 1.0, k, rng)), INCORRECT, "ignored"),
        Case(
            sample(lambda lg, t, k, rng: _sample()(np.repeat(lg[:1], len(lg), 0), t, k, rng)),
            INCORRECT,
            "own logits",
        ),
        Case(
            sample(lambda lg, t, k, rng: _sample()(lg, t, k, rng).astype(float)),
            INCORRECT,
            "integers",
        ),
        Case(sample(lambda lg, t, k, rng: _sample()(lg, t, k, rng)[:10]), INCORRECT, "shape"),
        Case(sample(lambda lg, t, k, rng: np.full(len(lg), 7)), INCORRECT, "they index"),
        Case(sample(_placeholder), NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q6_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    def mask(f):
        return {"causal_mask": f}

    return [
        Case(mask(lambda n: tf.transpose(_causal_mask(n))), INCORRECT, "the future"),
        Case(mask(lambda n: ~_causal_mask(n)), INCORRECT, "inverted"),
        Case(mask(lambda n: tf.cast(_causal_mask(n), tf.float32)), INCORRECT, "boolean"),
        Case(mask(lambda n: _causal_mask(n) & ~tf.eye(n, dtype=tf.bool)), INCORRECT, "diagonal"),
        Case(mask(lambda n: tf.ones((n, n), tf.bool)), INCORRECT, "no mask"),
        Case(mask(lambda n: _causal_mask(n)[:-1]), INCORRECT, "shape"),
        Case(mask(_placeholder), NOT_ATTEMPTED, "NotImplementedError"),
    ]


def wrong_answers() -> dict[str, list[Case]]:
    """Wrong answers to every exercise, with the status and words each must get."""
    right = answers()
    cases = {
        "q1": _q1_cases,
        "q2": _q2_cases,
        "q3": _q3_cases,
        "q4": _q4_cases,
        "q5": _q5_cases,
        "q6": _q6_cases,
    }
    return {q: make(right[q]) for q, make in cases.items()}


test_the_right_answer_is_correct, test_wrong_answers_are_incorrect_with_a_useful_reason = (
    verdict_tests(lab10, answers, wrong_answers)
)


# ------------------------------------------------------------------ the helpers
def test_a_sampler_that_follows_the_distribution_is_correct_whatever_the_draws() -> None:
    """Five seeds of the sampling probes' generator: a right sampler stays within the
    tolerance (it is five standard errors wide)."""
    for seed in range(5):
        ns = {"sample_next": _sample()}
        original = language.SAMPLING_SEED
        try:
            language.SAMPLING_SEED = 100 + seed
            assert lab10.q5.result(ns).status is Status.CORRECT
        finally:
            language.SAMPLING_SEED = original


def test_chars_encode_and_decode_between_start_and_end() -> None:
    chars = lm.Chars(["ab c", "ca"])
    ids = chars.encode("cab")
    assert ids[0] == lm.BOS and ids[-1] == lm.EOS and len(chars) == 3 + 4
    assert chars.decode(ids) == "cab"
    assert chars.decode([lm.BOS, *ids[1:3], lm.EOS, *ids[1:3]]) == "ca"


def test_the_ngram_counts_and_smooths_as_its_formula_says() -> None:
    chars = lm.Chars(["ab"])  # ids: a 3, b 4; vocabulary 5, so 3 symbols can follow
    seqs = [chars.encode("ab"), chars.encode("ab"), chars.encode("b")]
    model = lm.CharNgram(2, len(chars)).fit(seqs)
    # order 1: counts a 2, b 3, end 3 of 8 targets, over the uniform 1/3, strength 2
    p = model.probabilities([chars.encode("a")], 1, 2.0)
    assert p == pytest.approx([(2 + 2 / 3) / 10, (3 + 2 / 3) / 10])
    # order 2: after start, 'a' twice and 'b' once of 3
    p2 = model.probabilities([chars.encode("a")], 2, 2.0)
    assert p2[0] == pytest.approx((2 + 2 * p[0]) / 5)
    for order in (1, 2):  # the probabilities of all next symbols sum to 1, in any context
        total = sum(model.probabilities([np.array([lm.BOS, c])], order, 2.0)[0] for c in (2, 3, 4))
        assert total == pytest.approx(1.0)


def test_the_ngram_refuses_what_it_cannot_compute() -> None:
    with pytest.raises(ValueError, match="max_order"):
        lm.CharNgram(11, 5)
    with pytest.raises(ValueError, match="fit"):
        lm.CharNgram(3, 5).bits_per_char([np.array([1, 3, 2])], 2, 1.0)
    model = lm.CharNgram(3, 5).fit([np.array([1, 3, 2])])
    with pytest.raises(ValueError, match="order"):
        model.bits_per_char([np.array([1, 3, 2])], 4, 1.0)


def test_length_batches_hold_similar_lengths_and_shift_by_one() -> None:
    seqs = [np.arange(1, n + 1, dtype=np.int32) for n in (3, 9, 4, 8, 5)]
    batches = list(lm.length_batches(seqs, 2, seed=0).as_numpy_iterator())
    assert sorted(x.shape[1] for x, _ in batches) == [3, 7, 8]  # (3, 4), (5, 8), (9,): minus 1
    for x, y in batches:
        np.testing.assert_array_equal(x[:, 1:][x[:, 1:] != 0], y[:, :-1][x[:, 1:] != 0])


def test_bits_per_char_of_a_uniform_model_is_log2_of_the_ids() -> None:
    import keras

    seqs = [np.array([1, 3, 4, 2]), np.array([1, 4, 2])]
    uniform = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(8, 8, embeddings_initializer="zeros"),
        ]
    )
    assert lm.bits_per_char(uniform, seqs) == pytest.approx(3.0, abs=1e-5)


def test_neighbour_share_counts_group_members_among_the_nearest() -> None:
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [-1, 0]], float)
    assert lm.neighbour_share(vectors, [0], [1], k=1) == 1.0
    assert lm.neighbour_share(vectors, [0, 2], [1], k=2) == 0.5
