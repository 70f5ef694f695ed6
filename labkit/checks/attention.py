"""Lab 07's reference maths and classic mistakes, in NumPy float64: scaled dot-product attention
with a key mask, heads split and merged, multi-head attention (and Keras' own, with the same
projections), sinusoidal positions, and a pre-norm encoder block made of the learner's sublayers.
Each ``*_mistakes`` gives what a classic wrong answer computes on a probe, with its message.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import Mistake
from labkit.checks.learner_code import call_learner
from labkit.checks.reference import softmax
from labkit.checks.values import as_numpy

NEG = -1e9  # the score of a masked key: exp(NEG) is 0 in float32
Mistakes = list[Mistake]


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


def attention_mistakes(q, k, v, mask) -> Mistakes:
    """(output, weights) of the usual mistakes of scaled dot-product attention."""
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


def multi_head_mistakes(x, mask, w_q, w_k, w_v, w_o, heads: int) -> Mistakes:
    """(output, weights) of the usual mistakes of multi-head attention."""
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


def positions_mistakes(length: int, depth: int) -> Mistakes:
    """The usual mistakes of sinusoidal positions, (length, depth)."""
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


def set_block_weights(block: Any, silent: tuple[str, ...] = (), seed: int = 77) -> Any:
    """Every weight of an encoder block drawn from a fixed generator (LayerNormalization's
    scales around 1); the sublayers named in `silent` get zero weights, so they output 0."""
    rng = np.random.default_rng(seed)
    for weight in block.weights:
        value = rng.normal(scale=0.4, size=tuple(weight.shape))
        weight.assign((value + 1.0 if "gamma" in weight.path else value).astype(np.float32))
    for name in silent:
        for weight in getattr(block, name).weights:
            weight.assign(np.zeros(tuple(weight.shape), np.float32))
    return block


def block_outputs(block: Any, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, Mistakes]:
    """The right output of a pre-norm encoder block made of `block`'s sublayers (norm1,
    attention, norm2, ffn; the learner's code runs them), and the mistakes' outputs."""

    def run(layer: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        out = call_learner(layer, *args, training=False, **kwargs)
        return as_numpy(out, f"the output of the block's {layer.name}")

    def norm2(a):
        return run(block.norm2, a)

    def ffn(a):
        return run(block.ffn, a)

    def attend(a, key_mask=mask[:, None, :]):
        return run(block.attention, a, a, attention_mask=key_mask)

    h = run(block.norm1, x)
    y = x + attend(h)
    post = run(block.norm1, x + attend(x))
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
