"""Checks for lab 07: attention and Transformers (scaled dot-product attention with a padding
mask, multi-head attention by reshaping into heads, sinusoidal positions, an encoder block) and
a decision (q5: which model to keep, judged by the numbers of the learner's own run).

Each check judges a first probe with an ``Answer`` (the right value and its classic mistakes,
from ``attention``), then a few probes that change one thing (more padding, no mask, another
size) against the same references. Every input comes from a fixed NumPy generator and every
weight of a layer it builds is overwritten from one, so the verdict does not depend on the
global seed. The references are NumPy (float64) and ``keras.layers.MultiHeadAttention`` with
the same weights copied in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import Answer, close, expect, expect_finite
from labkit.checks.attention import (
    attention_mistakes,
    block_outputs,
    keras_multi_head,
    multi_head_mistakes,
    positions_mistakes,
    reference_attention,
    reference_multi_head,  # noqa: F401 - lab 07's references, read by its tests
    reference_sinusoidal_positions,
    set_block_weights,
)
from labkit.checks.exercise import Exercise, Incorrect, NotAttempted
from labkit.checks.learner_code import call_learner
from labkit.checks.values import (
    Namespace,
    as_numpy,
    describe,
    expect_shape,
    learner_value,
    returned,
)

LAB = "07_attention_transformers"
NOT_FINITE = (
    "if you set masked scores to -inf, a row whose keys are all masked gets NaN: use a large "
    "negative number such as -1e9 instead."
)


def _pair(out: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The `(output, weights)` a function returned, as arrays."""
    output, weights = returned(out, 2, what, "values, `(output, weights)`")
    return as_numpy(output, "the output"), as_numpy(weights, "the weights")


def _calling(what: str, advice: str, func: Any, *args: Any) -> Any:
    """call_learner, with what the call was about and what to do when the learner's code raises."""
    try:
        return call_learner(func, *args)
    except Incorrect as exc:
        raise Incorrect(f"{what}, {exc} {advice}") from None


# ----------------------------------------------------------------- q1: scaled dot-product attention
def _attention_inputs(seed: int = 71):
    """Queries (2, 3, 4), keys (2, 5, 4), values (2, 5, 6), and a key mask (2, 1, 5) that hides
    the last two keys of the second sequence."""
    rng = np.random.default_rng(seed)
    q = rng.normal(scale=1.5, size=(2, 3, 4)).astype(np.float32)
    k = rng.normal(scale=1.5, size=(2, 5, 4)).astype(np.float32)
    v = rng.normal(size=(2, 5, 6)).astype(np.float32)
    mask = np.ones((2, 1, 5), bool)
    mask[1, :, 3:] = False
    return q, k, v, mask


def _check_q1(ns: Namespace) -> str | None:
    attention = learner_value(ns, "scaled_dot_product_attention")
    q, k, v, mask = _attention_inputs()
    what = "scaled_dot_product_attention(q, k, v, mask)"
    out, weights = _pair(call_learner(attention, q, k, v, mask), what)
    expect(
        (out.shape, weights.shape) != ((2, 3, 5), (2, 3, 6)),
        "output and weights are swapped: return `(output, weights)`.",
    )
    names = ("the output (batch, queries, value depth)", "the weights (batch, queries, keys)")
    right = reference_attention(q, k, v, mask)
    mistakes = attention_mistakes(q, k, v, mask)
    Answer(right, mistakes, 1e-3, 1e-5, NOT_FINITE, names).judge((out, weights), what)

    # the same keys with three more, masked, holding anything; no mask; a heads axis
    rng = np.random.default_rng(72)
    k_pad = np.concatenate([k, rng.normal(scale=3, size=(2, 3, 4)).astype(np.float32)], axis=1)
    v_pad = np.concatenate([v, rng.normal(scale=3, size=(2, 3, 6)).astype(np.float32)], axis=1)
    mask_pad = np.concatenate([mask, np.zeros((2, 1, 3), bool)], axis=2)
    rng = np.random.default_rng(73)
    q4, k4, v4 = (rng.normal(size=(2, 2, t, 4)).astype(np.float32) for t in (3, 5, 5))
    probes = (
        (
            "with three more padded keys (mask False) holding anything",
            (q, k_pad, v_pad, mask_pad),
            "The masked keys must get a weight of exactly 0, whatever they hold.",
        ),
        (
            "called without a mask (mask=None)",
            (q, k, v),
            "Mask only when mask is not None; without a mask, attend to every key.",
        ),
        (
            "with a heads axis, q of shape (batch, heads, queries, depth)",
            (q4, k4, v4, mask[:, None]),
            "Transpose only the last two axes of k (e.g. `tf.matmul(q, k, transpose_b=True)`).",
        ),
    )
    for context, args, advice in probes:
        got = _pair(_calling(context, advice, attention, *args), what)[0]
        expect(
            close(got, reference_attention(*args)[0]), f"{context}, the output is wrong. {advice}"
        )
    return "softmax(q k^T / sqrt(depth)) v, with the padded keys given a weight of exactly 0."


# ----------------------------------------------------------------- q2: multi-head attention
def _multi_head_inputs(seed: int = 74, d_model: int = 8, time: int = 5):
    """x (2, time, d_model), a mask (2, time) whose second row ends with 2 padding positions,
    and four (d_model, d_model) projections."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, time, d_model)).astype(np.float32)
    mask = np.ones((2, time), bool)
    mask[1, -2:] = False
    w = [rng.normal(scale=0.5, size=(d_model, d_model)).astype(np.float32) for _ in range(4)]
    return x, mask, *w


def _q1_is_right(ns: Namespace) -> bool:
    try:
        _check_q1(ns)
    except (Incorrect, NotAttempted):
        return False
    return True


def _check_multi_head(ns: Namespace) -> str:
    mha = learner_value(ns, "multi_head_attention")
    what = "multi_head_attention(x, mask, w_q, w_k, w_v, w_o, num_heads)"
    x, mask, *w = _multi_head_inputs()
    out, weights = _pair(call_learner(mha, x, mask, *w, 2), what)
    expect(
        weights.shape != (2, 5, 5) or out.shape != (2, 5, 8),
        "the weights have shape (batch, time, time): keep one map per head, "
        "(batch, heads, time, time).",
    )
    names = ("the output (batch, time, d_model)", "the weights (batch, heads, time, time)")
    right, mistakes = keras_multi_head(x, mask, *w, 2), multi_head_mistakes(x, mask, *w, 2)
    Answer(right, mistakes, 1e-3, 1e-5, NOT_FINITE, names).judge((out, weights), what)

    # four heads, seven words: nothing may depend on 2 heads or 5 words
    x, mask, *w = _multi_head_inputs(seed=75, time=7)
    out4, _ = _pair(call_learner(mha, x, mask, *w, 4), what)
    expect(
        close(out4, keras_multi_head(x, mask, *w, 4)[0]),
        "right with 2 heads but wrong with num_heads=4 and 7 words: compute the depth as "
        "d_model // num_heads and take the sizes from x, not from the example.",
    )
    # three more padding positions, holding anything: the words' outputs stay as they were
    rng = np.random.default_rng(76)
    x_pad = np.concatenate([x, rng.normal(scale=3, size=(2, 3, 8)).astype(np.float32)], axis=1)
    mask_pad = np.concatenate([mask, np.zeros((2, 3), bool)], axis=1)
    padded, _ = _pair(call_learner(mha, x_pad, mask_pad, *w, 4), what)
    expect(
        padded.shape == (2, 10, 8)
        and close(padded[:, :7] * mask[..., None], out4 * mask[..., None]),
        "three more padding positions change the outputs of the real words: pass the mask "
        "to the attention.",
    )
    return "the same output and weights as keras.layers.MultiHeadAttention with your projections."


def _check_q2(ns: Namespace) -> str | None:
    try:
        return _check_multi_head(ns)
    except Incorrect as exc:
        if "scaled_dot_product_attention" in ns and not _q1_is_right(ns):
            raise Incorrect(
                f"{exc} Your scaled_dot_product_attention (q1) is not right yet: if "
                "multi_head_attention uses it, fix q1 first (q1.check())."
            ) from None
        raise


# ----------------------------------------------------------------- q3: sinusoidal positions
def _check_q3(ns: Namespace) -> str | None:
    positions = learner_value(ns, "sinusoidal_positions")
    what = "sinusoidal_positions(20, 16)"
    pe = as_numpy(call_learner(positions, 20, 16), what)
    expect(
        pe.shape != (16, 20), f"{what} has shape (16, 20), (depth, length); return (length, depth)."
    )
    right = reference_sinusoidal_positions(20, 16)
    Answer(right, positions_mistakes(20, 16), atol=1e-4).judge(pe, what)
    other = as_numpy(call_learner(positions, 7, 6), "sinusoidal_positions(7, 6)")
    expect(
        close(other, reference_sinusoidal_positions(7, 6)),
        "sinusoidal_positions(7, 6) is wrong although (20, 16) is right: take the length and "
        "the depth from the arguments.",
    )
    return "every position gets its own pattern, and nearby positions similar ones."


# ----------------------------------------------------------------- q4: an encoder block
SUBLAYERS = ("attention", "norm1", "norm2", "ffn", "dropout")


def _learners_block(ns: Namespace, dropout: float) -> Any:
    """The learner's EncoderBlock(8, 2, 16, dropout), built on a small batch."""
    import keras

    cls = learner_value(ns, "EncoderBlock")
    expect(
        isinstance(cls, type) and issubclass(cls, keras.layers.Layer),
        f"EncoderBlock should be a keras Layer class, not a {type(cls).__name__}.",
    )
    block = call_learner(cls, 8, 2, 16, dropout=dropout)
    missing = [name for name in SUBLAYERS if not hasattr(block, name)]
    expect(
        not missing,
        f"the block has no {', '.join(missing)}: keep the sublayers that __init__ creates "
        "(self.attention, self.norm1, self.norm2, self.ffn, self.dropout) and use them in call.",
    )
    for name in SUBLAYERS:
        sublayer = getattr(block, name)
        expect(
            isinstance(sublayer, keras.layers.Layer),
            f"self.{name} is {describe(sublayer)}; it should be a Keras layer, as __init__ "
            f"creates it: keep that line, and do not assign self.{name} elsewhere.",
        )
    call_learner(block, np.zeros((1, 3, 8), np.float32), mask=np.ones((1, 3), bool), training=False)
    return block


def _check_q4(ns: Namespace) -> str | None:
    import keras

    block = set_block_weights(_learners_block(ns, dropout=0.5))
    rng = np.random.default_rng(78)
    x = rng.normal(size=(2, 6, 8)).astype(np.float32)
    mask = np.ones((2, 6), bool)
    mask[1, 4:] = False
    what = "EncoderBlock(8, 2, 16)(x, mask=mask)"
    out = expect_finite(
        expect_shape(call_learner(block, x, mask=mask, training=False), (2, 6, 8), what), what
    )
    Answer(*block_outputs(block, x, mask), rtol=1e-3, atol=1e-4).judge(out, what)
    expect(
        block.supports_masking,
        "the block drops the mask: keep `self.supports_masking = True`, so that the mask goes "
        "on to the next layers and the loss ignores the padding.",
    )
    # after an Embedding(mask_zero=True), the padding changes nothing
    inputs = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(10, 8, mask_zero=True)
    model = keras.Model(inputs, block(embedding(inputs)))
    embedding.set_weights([rng.normal(size=(10, 8)).astype(np.float32)])
    ids = np.array([[5, 3, 8, 2, 0, 0]], np.int32)
    padded = as_numpy(call_learner(model, ids, training=False), "the output")
    alone = as_numpy(call_learner(model, ids[:, :4], training=False), "the output")
    expect(
        close(padded[:, :4], alone),
        "after an Embedding(mask_zero=True), the padding changes the words' outputs: keep "
        "`self.supports_masking = True` and the `mask=None` argument of call, and use it.",
    )
    # dropout: on each sublayer's output, never on the residual path. Twelve words, so that the
    # attention's own dropout (of its weights) almost never zeroes a whole output vector: exact
    # zeros in out - x come from a dropout of the sublayer's output.
    x = rng.normal(size=(2, 12, 8)).astype(np.float32)
    mask = np.ones((2, 12), bool)
    set_block_weights(block, silent=("attention", "ffn"))  # both sublayers output 0
    expect(
        close(as_numpy(call_learner(block, x, mask=mask, training=True), what), x),
        "with training=True the block changes the residual path x itself: apply the dropout "
        "to each sublayer's output before adding it, x + dropout(sublayer(...)), not to the sum.",
    )
    for sublayer, silent in (("attention", ("ffn",)), ("feed-forward network", ("attention",))):
        set_block_weights(block, silent)  # only `sublayer` outputs something
        added = as_numpy(call_learner(block, x, mask=mask, training=True), what) - x
        expect(  # a dropout of rate 0.5 zeroes about half
            np.mean(added == 0) >= 0.25,
            f"with training=True the {sublayer}'s output is never dropped: apply "
            "self.dropout(..., training=training) to it before the residual addition.",
        )
    return "pre-norm attention and feed-forward sublayers, each with its residual connection."


# ------------------------------------------------------------ q5: the model to keep (a decision)
TIE = 0.005  # slot F1 differences smaller than this are what a seed changes
COLUMNS = ("slot F1", "ms per question", "intent accuracy")


def _check_q5(ns: Namespace) -> str | None:
    table, keep = learner_value(ns, "comparison"), learner_value(ns, "KEEP")
    try:  # a DataFrame (or a dict of columns) indexed by the models' names
        rows = {str(n): [float(table[c][n]) for c in COLUMNS] for n in table[COLUMNS[0]].keys()}
    except Exception:  # noqa: BLE001 - anything but part 9's table
        rows = {}
    expect(
        len(rows) >= 2 and np.isfinite(list(rows.values())).all(),
        f"`comparison` is {describe(table)}; it should be part 9's table of the two models, "
        "with its columns 'slot F1' and 'ms per question': run that cell again.",
    )
    expect(
        isinstance(keep, str) and keep in rows,
        f"`KEEP` is {describe(keep)}; it should be the name of a row of `comparison`: "
        f"{' or '.join(map(repr, rows))}.",
    )
    (f1, ms, intent), kept = rows[keep], f"you kept {keep} (slot F1 {rows[keep][0]:.4f})"
    for name, (other_f1, other_ms, other_intent) in rows.items():
        for_intent = " for its intent accuracy" if intent > other_intent else ""
        expect(
            other_f1 - f1 < TIE,
            f"{kept}{for_intent}, but {name}'s slot F1 is {other_f1:.4f}, {other_f1 - f1:.4f} "
            f"higher: more than a seed changes, and the slots matter most. Keep {name}.",
        )
        expect(
            not (abs(other_f1 - f1) < TIE and other_ms < ms),
            f"{kept}: {name}'s {other_f1:.4f} is within {TIE} of it, a tie, and {name} answers "
            f"faster ({other_ms:.2f} ms per question against {ms:.2f}; the training's speed, "
            "s per epoch, does not count). Keep the faster one.",
        )
    return f"{keep}: slot F1 {f1:.4f}, {ms:.2f} ms per question, none better by {TIE} or more."


q1 = Exercise(
    "Scaled dot-product attention with a padding mask",
    _check_q1,
    hints=[
        "Scores: every query against every key, `q @ k^T`, divided by sqrt(depth) (the last "
        "axis of q). Where mask is False, replace the score by -1e9. A softmax over the keys "
        "(the last axis) gives the weights; the output is `weights @ v`.",
        "`scores = tf.matmul(q, k, transpose_b=True) / tf.sqrt(tf.cast(tf.shape(k)[-1], "
        "tf.float32))`; where a mask is given, `tf.where(mask, scores, -1e9)`.",
    ],
)
q2 = Exercise(
    "Multi-head attention by reshaping into heads",
    _check_q2,
    hints=[
        "Project, `x @ w_q` (and k, v): still (batch, time, d_model). Split each into heads: "
        "reshape to (batch, time, num_heads, depth), transpose to (batch, num_heads, time, "
        "depth). Attend with your q1, the mask as (batch, 1, 1, time). Merge back, then `@ w_o`.",
        "Each head gets d_model // num_heads columns (its depth): reshape a projection to (batch, "
        "time, num_heads, depth), then `tf.transpose(..., (0, 2, 1, 3))` puts the heads second.",
    ],
)
q3 = Exercise(
    "Sinusoidal positions",
    _check_q3,
    hints=[
        "A column of positions p = 0 ... length - 1 times a row of frequencies "
        "1 / 10000^(2i / depth), i = 0 ... depth / 2 - 1, gives the angles, (length, depth / 2).",
        "With NumPy broadcasting, a column `np.arange(length)[:, None]` divided by a row of "
        "`10000 ** (2 * i / depth)` makes the angles; the sines go to the even columns "
        "`pe[:, 0::2]`, the cosines to the odd ones.",
    ],
)
q4 = Exercise(
    "A Transformer encoder block",
    _check_q4,
    hints=[
        "Two sublayers, each `x = x + dropout(sublayer(norm(x)))`: first the attention of the "
        "normalised x with itself (`attention_mask=mask[:, None, :]`), then the feed-forward "
        "network.",
        "First normalise, h = norm1 of x; then add to x the dropout of `self.attention(h, h, "
        "attention_mask=...)`; the same with norm2 and the feed-forward network.",
    ],
)

q5 = Exercise(
    "Which model to keep",
    _check_q5,
    hints=[
        "First the slot F1: a model more than 0.005 below the best is out. Among those left "
        "(a tie), the smaller `ms per question` wins.",
        "`comparison[comparison['slot F1'] > best - 0.005]` keeps the tied rows; "
        "`['ms per question'].idxmin()` gives the name of the fastest.",
    ],
)

EXERCISES = (q1, q2, q3, q4, q5)
