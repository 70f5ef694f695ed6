"""Checks for lab 07: attention and Transformers (scaled dot-product attention with a padding
mask, multi-head attention by reshaping into heads, sinusoidal positions, an encoder block).

Every input a check feeds the learner's code comes from a fixed NumPy generator, and every
weight of a layer it builds is overwritten from one, so the verdict does not depend on the
global seed. The references are NumPy (float64), ``keras.ops.dot_product_attention`` and
``keras.layers.MultiHeadAttention`` with the same weights copied in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import Answer, Mistake, close, expect_close, name_the_mistake
from labkit.checks.exercise import Exercise, Incorrect, NotAttempted
from labkit.checks.learner_code import call_learner
from labkit.checks.reference import softmax
from labkit.checks.values import (
    Namespace,
    as_numpy,
    describe,
    expect_shape,
    learner_value,
)

LAB = "07_attention_transformers"
NEG = -1e9  # the score of a masked key: exp(NEG) is 0 in float32
Mistakes = list[Mistake]


# ----------------------------------------------------------------- references (NumPy, float64)
def _scores(q: np.ndarray, k: np.ndarray, scale: float | None = None) -> np.ndarray:
    """q k^T / scale, by default / sqrt(depth)."""
    scale = np.sqrt(q.shape[-1]) if scale is None else scale
    return q @ np.swapaxes(k, -1, -2) / scale


def reference_attention(q, k, v, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """softmax(q k^T / sqrt(depth), the masked keys' scores set to -1e9) v, and the weights."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    scores = _scores(q, k)
    if mask is not None:
        scores = np.where(np.asarray(mask, bool), scores, NEG)
    weights = softmax(scores)
    return weights @ v, weights


def split_heads(x: np.ndarray, num_heads: int) -> np.ndarray:
    """(batch, time, d_model) -> (batch, heads, time, d_model // heads)."""
    batch, time, d_model = x.shape
    return x.reshape(batch, time, num_heads, d_model // num_heads).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """(batch, heads, time, depth) -> (batch, time, heads * depth)."""
    batch, heads, time, depth = x.shape
    return x.transpose(0, 2, 1, 3).reshape(batch, time, heads * depth)


def reference_multi_head(x, mask, w_q, w_k, w_v, w_o, num_heads) -> tuple[np.ndarray, np.ndarray]:
    """Multi-head self-attention without biases: (output, weights (batch, heads, time, time))."""
    x, w_q, w_k, w_v, w_o = (np.asarray(a, np.float64) for a in (x, w_q, w_k, w_v, w_o))
    q, k, v = (split_heads(x @ w, num_heads) for w in (w_q, w_k, w_v))
    key_mask = None if mask is None else np.asarray(mask, bool)[:, None, None, :]
    out, weights = reference_attention(q, k, v, key_mask)
    return merge_heads(out) @ w_o, weights


def keras_multi_head(x, mask, w_q, w_k, w_v, w_o, num_heads) -> tuple[np.ndarray, np.ndarray]:
    """``keras.layers.MultiHeadAttention`` (no biases) with these projections copied in: its
    kernels are ours reshaped, (d_model, heads, depth) and (heads, depth, d_model)."""
    import keras

    d_model = x.shape[-1]
    depth = d_model // num_heads
    layer = keras.layers.MultiHeadAttention(num_heads, depth, use_bias=False)
    layer.build(x.shape, x.shape)
    projections = [w.reshape(d_model, num_heads, depth) for w in (w_q, w_k, w_v)]
    layer.set_weights([*projections, w_o.reshape(num_heads, depth, d_model)])
    out, weights = layer(x, x, attention_mask=mask[:, None, :], return_attention_scores=True)
    return keras.ops.convert_to_numpy(out), keras.ops.convert_to_numpy(weights)


def reference_sinusoidal_positions(length: int, depth: int) -> np.ndarray:
    """PE[p, 2i] = sin(p / 10000^(2i / depth)), PE[p, 2i + 1] = cos(the same angle)."""
    angle = np.arange(length)[:, None] / 10000 ** (2 * np.arange(depth // 2)[None, :] / depth)
    pe = np.zeros((length, depth))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angle), np.cos(angle)
    return pe


# ----------------------------------------------------------------- small helpers
def _pair(out: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The `(output, weights)` a function returned, as arrays."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"{len(out)} values" if isinstance(out, (tuple, list)) else type(out).__name__
        raise Incorrect(f"{what} should return two values, `(output, weights)`, not {got}.")
    return as_numpy(out[0], "the output"), as_numpy(out[1], "the weights")


def _finite(value: np.ndarray, what: str) -> np.ndarray:
    if not np.issubdtype(value.dtype, np.number):
        raise Incorrect(f"{what} should hold numbers, not {value.dtype}.")
    if not np.isfinite(value).all():
        raise Incorrect(
            f"{what} holds NaN or infinite values. If you set masked scores to -inf, a row whose "
            "keys are all masked gets NaN: use a large negative number such as -1e9 instead."
        )
    return value


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


def _attention_mistakes(q, k, v, mask) -> Mistakes:
    """(output, weights) of the usual mistakes, each with the message that explains it."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))

    def attend(scores: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
        weights = softmax(scores, axis)
        return weights @ v, weights

    scores = _scores(q, k)
    unscaled = np.where(mask, _scores(q, k, 1.0), NEG)
    by_depth = np.where(mask, _scores(q, k, float(q.shape[-1])), NEG)
    after = softmax(scores) * mask
    return [
        Mistake(
            "the scores are not scaled: divide q k^T by sqrt(depth), the square root of the "
            "last axis of q, so that the softmax does not saturate as the depth grows.",
            attend(unscaled),
        ),
        Mistake(
            "the scores are divided by the depth; divide by its square root, sqrt(depth).",
            attend(by_depth),
        ),
        Mistake(
            "the mask is ignored: the padded keys still get weight. Set their scores to a large "
            "negative number (e.g. -1e9) before the softmax, where mask is False.",
            attend(scores),
        ),
        Mistake(
            "the mask is inverted: keep the keys where mask is True, hide those where it is False.",
            attend(np.where(mask, NEG, scores)),
        ),
        Mistake(
            "the mask is applied after the softmax, so the weights no longer sum to 1: hide the "
            "padded keys' scores before the softmax.",
            (after @ v, after),
        ),
        Mistake(
            "the scores are multiplied by the mask: a score of 0 still gets weight exp(0). Set "
            "the masked scores to a large negative number instead.",
            attend(scores * mask),
        ),
        Mistake(
            "the softmax runs over the queries (axis -2); each query's weights over the keys "
            "must sum to 1: softmax over the last axis.",
            attend(np.where(mask, scores, NEG), axis=-2),
        ),
    ]


def _check_q1(ns: Namespace) -> str | None:
    import keras

    attention = learner_value(ns, "scaled_dot_product_attention")
    q, k, v, mask = _attention_inputs()
    what = "scaled_dot_product_attention(q, k, v, mask)"
    out, weights = _pair(call_learner(attention, q, k, v, mask), what)
    if out.shape == (2, 3, 5) and weights.shape == (2, 3, 6):
        raise Incorrect("output and weights are swapped: return `(output, weights)`.")
    out = _finite(
        expect_shape(out, (2, 3, 6), "the output (batch, queries, value depth)"), "the output"
    )
    weights = _finite(
        expect_shape(weights, (2, 3, 5), "the weights (batch, queries, keys)"), "the weights"
    )
    name_the_mistake((out, weights), _attention_mistakes(q, k, v, mask), atol=1e-4)
    want_out, want_weights = reference_attention(q, k, v, mask)
    expect_close(weights, want_weights, "the weights", rtol=1e-3, atol=1e-5)
    # the output, against Keras' own attention (layout: batch, time, heads, depth)
    heads = (a[:, :, None] for a in (q, k, v))
    keras_out = keras.ops.convert_to_numpy(
        keras.ops.dot_product_attention(*heads, mask=mask[:, None])
    )[:, :, 0]
    expect_close(out, keras_out, "the output, against keras.ops.dot_product_attention", 1e-3, 1e-5)

    # three more keys, masked, holding anything: nothing changes
    rng = np.random.default_rng(72)
    k_pad = np.concatenate([k, rng.normal(scale=3, size=(2, 3, 4)).astype(np.float32)], axis=1)
    v_pad = np.concatenate([v, rng.normal(scale=3, size=(2, 3, 6)).astype(np.float32)], axis=1)
    mask_pad = np.concatenate([mask, np.zeros((2, 1, 3), bool)], axis=2)
    padded, _ = _pair(call_learner(attention, q, k_pad, v_pad, mask_pad), what)
    if not close(padded, want_out):
        raise Incorrect(
            "three more padded keys (mask False) change the output: the masked keys must get "
            "a weight of exactly 0, whatever they hold."
        )
    # no mask: every key counts
    plain = _calling(
        "called without a mask", "Mask only when mask is not None.", attention, q, k, v
    )
    if not close(_pair(plain, what)[0], reference_attention(q, k, v)[0]):
        raise Incorrect(
            "called without a mask (mask=None), the output is wrong: attend to every key."
        )
    # a heads axis: (batch, heads, time, depth)
    rng = np.random.default_rng(73)
    q4, k4, v4 = (rng.normal(size=(2, 2, t, 4)).astype(np.float32) for t in (3, 5, 5))
    mask4 = mask[:, None]  # (2, 1, 1, 5)
    heads_axis = "with a heads axis, q of shape (batch, heads, queries, depth)"
    advice = "Transpose only the last two axes of k (e.g. `tf.matmul(q, k, transpose_b=True)`)."
    four = _calling(heads_axis, advice, attention, q4, k4, v4, mask4)
    if not close(_pair(four, what)[0], reference_attention(q4, k4, v4, mask4)[0]):
        raise Incorrect(f"{heads_axis}, the output is wrong. {advice}")
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


def _multi_head_mistakes(x, mask, w_q, w_k, w_v, w_o, heads: int) -> Mistakes:
    x, w_q, w_k, w_v, w_o = (np.asarray(a, np.float64) for a in (x, w_q, w_k, w_v, w_o))
    batch, time, d_model = x.shape
    key_mask = mask[:, None, None, :]
    q, k, v = (split_heads(x @ w, heads) for w in (w_q, w_k, w_v))
    out, weights = reference_attention(q, k, v, key_mask)
    mixed = (np.reshape(x @ w, (batch, heads, time, d_model // heads)) for w in (w_q, w_k, w_v))
    mixed_out, mixed_weights = reference_attention(*mixed, key_mask)
    model_weights = softmax(np.where(key_mask, _scores(q, k, np.sqrt(d_model)), NEG))
    unmasked_out, unmasked_weights = reference_attention(q, k, v)
    return [
        Mistake(
            "the heads are split by a reshape to (batch, heads, time, depth) alone, which mixes "
            "words and heads: reshape to (batch, time, heads, depth), then transpose to "
            "(batch, heads, time, depth).",
            (merge_heads(mixed_out) @ w_o, mixed_weights),
        ),
        Mistake(
            "the heads are merged without transposing back: transpose (batch, heads, time, "
            "depth) to (batch, time, heads, depth) before reshaping to (batch, time, d_model).",
            (out.reshape(batch, time, d_model) @ w_o, weights),
        ),
        Mistake(
            "the output projection is missing: multiply the merged heads by w_o.",
            (merge_heads(out), weights),
        ),
        Mistake(
            "the scores are scaled by sqrt(d_model); each head's queries have depth "
            "d_model // num_heads, so scale by the square root of that.",
            (merge_heads(model_weights @ v) @ w_o, model_weights),
        ),
        Mistake(
            "the mask is ignored: pass it to the attention as (batch, 1, 1, time), so that it "
            "hides the same keys for every head and every query.",
            (merge_heads(unmasked_out) @ w_o, unmasked_weights),
        ),
    ]


def _q1_is_right(ns: Namespace) -> bool:
    try:
        _check_q1(ns)
    except (Incorrect, NotAttempted):
        return False
    return True


def _check_multi_head(ns: Namespace) -> str:
    mha = learner_value(ns, "multi_head_attention")
    what = "multi_head_attention(x, mask, w_q, w_k, w_v, w_o, num_heads)"
    x, mask, w_q, w_k, w_v, w_o = _multi_head_inputs()
    out, weights = _pair(call_learner(mha, x, mask, w_q, w_k, w_v, w_o, 2), what)
    out = _finite(expect_shape(out, (2, 5, 8), "the output (batch, time, d_model)"), "the output")
    if weights.shape == (2, 5, 5):
        raise Incorrect(
            "the weights have shape (batch, time, time): keep one map per head, "
            "(batch, heads, time, time)."
        )
    weights = expect_shape(weights, (2, 2, 5, 5), "the weights (batch, heads, time, time)")
    name_the_mistake(
        (out, weights), _multi_head_mistakes(x, mask, w_q, w_k, w_v, w_o, 2), atol=1e-4
    )
    keras_out, keras_weights = keras_multi_head(x, mask, w_q, w_k, w_v, w_o, 2)
    against = "against keras.layers.MultiHeadAttention"
    expect_close(weights, keras_weights, f"the weights, {against}", rtol=1e-3, atol=1e-5)
    expect_close(out, keras_out, f"the output, {against}", rtol=1e-3, atol=1e-4)

    # four heads, seven words: nothing may depend on 2 heads or 5 words
    x, mask, w_q, w_k, w_v, w_o = _multi_head_inputs(seed=75, time=7)
    out4, _ = _pair(call_learner(mha, x, mask, w_q, w_k, w_v, w_o, 4), what)
    if not close(out4, keras_multi_head(x, mask, w_q, w_k, w_v, w_o, 4)[0]):
        raise Incorrect(
            "right with 2 heads but wrong with num_heads=4 and 7 words: compute the depth as "
            "d_model // num_heads and take the sizes from x, not from the example."
        )
    # three more padding positions, holding anything: the words' outputs stay as they were
    rng = np.random.default_rng(76)
    x_pad = np.concatenate([x, rng.normal(scale=3, size=(2, 3, 8)).astype(np.float32)], axis=1)
    mask_pad = np.concatenate([mask, np.zeros((2, 3), bool)], axis=1)
    padded, _ = _pair(call_learner(mha, x_pad, mask_pad, w_q, w_k, w_v, w_o, 4), what)
    if padded.shape != (2, 10, 8) or not close(
        padded[:, :7] * mask[..., None], out4 * mask[..., None]
    ):
        raise Incorrect(
            "three more padding positions change the outputs of the real words: pass the mask "
            "to the attention."
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
def _positions_mistakes(length: int, depth: int) -> Mistakes:
    angle = np.arange(length)[:, None] / 10000 ** (2 * np.arange(depth // 2)[None, :] / depth)
    even = np.arange(depth) % 2 == 0
    per_column = np.arange(length)[:, None] / 10000 ** (np.arange(depth)[None, :] / depth)
    swapped = np.zeros((length, depth))
    swapped[:, 0::2], swapped[:, 1::2] = np.cos(angle), np.sin(angle)
    return [
        Mistake(
            "the sines and cosines are side by side (all sines, then all cosines); interleave "
            "them: sine in the even columns 0, 2, 4 ..., cosine in the odd ones.",
            np.concatenate([np.sin(angle), np.cos(angle)], axis=1),
        ),
        Mistake(
            "the sines and cosines are swapped: sine in the even columns, cosine in the odd ones.",
            swapped,
        ),
        Mistake(
            "the exponent uses the column index; columns 2i and 2i + 1 share one frequency, "
            "1 / 10000^(2i / depth).",
            np.where(even, np.sin(per_column), np.cos(per_column)),
        ),
        Mistake(
            "the positions start at 1; the first word is at position 0 (its row is 0, 1, 0, 1 ...).",
            reference_sinusoidal_positions(length + 1, depth)[1:],
        ),
    ]


def _check_q3(ns: Namespace) -> str | None:
    positions = learner_value(ns, "sinusoidal_positions")
    what = "sinusoidal_positions(20, 16)"
    pe = as_numpy(call_learner(positions, 20, 16), what)
    if pe.shape == (16, 20):
        raise Incorrect(f"{what} has shape (16, 20), (depth, length); return (length, depth).")
    pe = _finite(expect_shape(pe, (20, 16), f"{what} (length, depth)"), what)
    Answer(reference_sinusoidal_positions(20, 16), _positions_mistakes(20, 16), atol=1e-4).judge(
        pe, what
    )
    other = as_numpy(call_learner(positions, 7, 6), "sinusoidal_positions(7, 6)")
    if not close(other, reference_sinusoidal_positions(7, 6)):
        raise Incorrect(
            "sinusoidal_positions(7, 6) is wrong although (20, 16) is right: take the length and "
            "the depth from the arguments."
        )
    return "every position gets its own pattern, and nearby positions similar ones."


# ----------------------------------------------------------------- q4: an encoder block
SUBLAYERS = ("attention", "norm1", "norm2", "ffn", "dropout")


def _learners_block(ns: Namespace, dropout: float) -> Any:
    """The learner's EncoderBlock(8, 2, 16, dropout), built on a small batch."""
    import keras

    cls = learner_value(ns, "EncoderBlock")
    if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
        raise Incorrect(f"EncoderBlock should be a keras Layer class, not a {type(cls).__name__}.")
    block = call_learner(cls, 8, 2, 16, dropout=dropout)
    missing = [name for name in SUBLAYERS if not hasattr(block, name)]
    if missing:
        raise Incorrect(
            f"the block has no {', '.join(missing)}: keep the sublayers that __init__ creates "
            "(self.attention, self.norm1, self.norm2, self.ffn, self.dropout) and use them in call."
        )
    for name in SUBLAYERS:
        sublayer = getattr(block, name)
        if not isinstance(sublayer, keras.layers.Layer):
            raise Incorrect(
                f"self.{name} is {describe(sublayer)}; it should be a Keras layer, as __init__ "
                f"creates it: keep that line, and do not assign self.{name} elsewhere."
            )
    call_learner(block, np.zeros((1, 3, 8), np.float32), mask=np.ones((1, 3), bool), training=False)
    return block


def _set_weights(block: Any, silent: tuple[str, ...] = (), seed: int = 77) -> Any:
    """Every weight drawn from a fixed generator (LayerNormalization's scales around 1); the
    sublayers named in `silent` get zero weights, so that they output exactly 0."""
    rng = np.random.default_rng(seed)
    for weight in block.weights:
        value = rng.normal(scale=0.4, size=tuple(weight.shape))
        weight.assign((value + 1.0 if "gamma" in weight.path else value).astype(np.float32))
    for name in silent:
        for weight in getattr(block, name).weights:
            weight.assign(np.zeros(tuple(weight.shape), np.float32))
    return block


def _block_outputs(block: Any, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, Mistakes]:
    """The right output of a pre-norm block made of `block`'s sublayers, and the mistakes'."""

    def run(layer: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        out = call_learner(layer, *args, training=False, **kwargs)
        return as_numpy(out, f"the output of the block's {layer.name}")

    def norm1(a):
        return run(block.norm1, a)

    def norm2(a):
        return run(block.norm2, a)

    def ffn(a):
        return run(block.ffn, a)

    def attend(a, key_mask=mask[:, None, :]):
        return run(block.attention, a, a, attention_mask=key_mask)

    h = norm1(x)
    y = x + attend(h)
    post = norm1(x + attend(x))
    unnormed = x + attend(x)
    unmasked = x + attend(h, None)
    return y + ffn(norm2(y)), [
        Mistake(
            "this is the post-norm block of the original paper, norm(x + sublayer(x)); the "
            "exercise asks for pre-norm, x + sublayer(norm(x)), which trains more steadily.",
            norm2(post + ffn(post)),
        ),
        Mistake(
            "the attention's residual connection is missing: add the block's input x to the "
            "attention's output.",
            attend(h) + ffn(norm2(attend(h))),
        ),
        Mistake(
            "the feed-forward network's residual connection is missing: add its input to its "
            "output.",
            ffn(norm2(y)),
        ),
        Mistake("the feed-forward network is missing: after the attention, x + ffn(norm2(x)).", y),
        Mistake(
            "the attention reads x itself: normalise first, h = norm1(x), then attention(h, h).",
            unnormed + ffn(norm2(unnormed)),
        ),
        Mistake(
            "the feed-forward network reads x itself: normalise first, x + ffn(norm2(x)).",
            y + ffn(y),
        ),
        Mistake(
            "the mask is not passed to the attention: give it `attention_mask=mask[:, None, :]`, "
            "so that no word attends to the padding.",
            unmasked + ffn(norm2(unmasked)),
        ),
    ]


def _check_q4(ns: Namespace) -> str | None:
    import keras

    block = _set_weights(_learners_block(ns, dropout=0.5))
    rng = np.random.default_rng(78)
    x = rng.normal(size=(2, 6, 8)).astype(np.float32)
    mask = np.ones((2, 6), bool)
    mask[1, 4:] = False
    what = "EncoderBlock(8, 2, 16)(x, mask=mask)"
    out = call_learner(block, x, mask=mask, training=False)
    out = _finite(expect_shape(out, (2, 6, 8), what), what)
    want, mistakes = _block_outputs(block, x, mask)
    Answer(want, mistakes, rtol=1e-3, atol=1e-4).judge(out, what)
    if not block.supports_masking:
        raise Incorrect(
            "the block drops the mask: keep `self.supports_masking = True`, so that the mask goes "
            "on to the next layers and the loss ignores the padding."
        )
    # after an Embedding(mask_zero=True), the padding changes nothing
    inputs = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(10, 8, mask_zero=True)
    model = keras.Model(inputs, block(embedding(inputs)))
    embedding.set_weights([rng.normal(size=(10, 8)).astype(np.float32)])
    ids = np.array([[5, 3, 8, 2, 0, 0]], np.int32)
    padded = as_numpy(call_learner(model, ids, training=False), "the output")
    alone = as_numpy(call_learner(model, ids[:, :4], training=False), "the output")
    if not close(padded[:, :4], alone):
        raise Incorrect(
            "after an Embedding(mask_zero=True), the padding changes the words' outputs: keep "
            "`self.supports_masking = True` and the `mask=None` argument of call, and use it."
        )
    # dropout: on each sublayer's output, never on the residual path. Twelve words, so that the
    # attention's own dropout (of its weights) almost never zeroes a whole output vector: exact
    # zeros in out - x come from a dropout of the sublayer's output.
    x = rng.normal(size=(2, 12, 8)).astype(np.float32)
    mask = np.ones((2, 12), bool)
    _set_weights(block, silent=("attention", "ffn"))  # both sublayers output 0
    if not close(as_numpy(call_learner(block, x, mask=mask, training=True), what), x):
        raise Incorrect(
            "with training=True the block changes the residual path x itself: apply the dropout "
            "to each sublayer's output before adding it, x + dropout(sublayer(...)), not to the sum."
        )
    for sublayer, silent in (("attention", ("ffn",)), ("feed-forward network", ("attention",))):
        _set_weights(block, silent)  # only `sublayer` outputs something
        added = as_numpy(call_learner(block, x, mask=mask, training=True), what) - x
        if np.mean(added == 0) < 0.25:  # a dropout of rate 0.5 zeroes about half
            raise Incorrect(
                f"with training=True the {sublayer}'s output is never dropped: apply "
                "self.dropout(..., training=training) to it before the residual addition."
            )
    return "pre-norm attention and feed-forward sublayers, each with its residual connection."


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

EXERCISES = (q1, q2, q3, q4)
