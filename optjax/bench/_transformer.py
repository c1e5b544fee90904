"""A small decoder-only transformer in ``flax.nnx``: the real-model tree and the char-level LM."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx


class Block(nnx.Module):
    """Pre-norm transformer block: causal self-attention and a 4x MLP, both residual."""

    def __init__(self, width: int, heads: int, *, rngs: nnx.Rngs):
        self.norm1 = nnx.LayerNorm(width, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(
            num_heads=heads, in_features=width, decode=False, rngs=rngs
        )
        self.norm2 = nnx.LayerNorm(width, rngs=rngs)
        self.up = nnx.Linear(width, 4 * width, rngs=rngs)
        self.down = nnx.Linear(4 * width, width, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        x = x + self.attn(self.norm1(x), mask=mask)
        return x + self.down(jax.nn.gelu(self.up(self.norm2(x))))


class CharTransformer(nnx.Module):
    """Token and position embeddings, ``layers`` blocks, a final norm and a vocabulary head."""

    def __init__(
        self, vocab: int, width: int, layers: int, heads: int, context: int, *, rngs: nnx.Rngs
    ):
        self.embed = nnx.Embed(vocab, width, rngs=rngs)
        self.pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (context, width)))
        self.blocks = nnx.List([Block(width, heads, rngs=rngs) for _ in range(layers)])
        self.norm = nnx.LayerNorm(width, rngs=rngs)
        self.head = nnx.Linear(width, vocab, rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        length = tokens.shape[-1]
        x = self.embed(tokens) + self.pos[...][:length]
        mask = nnx.make_causal_mask(tokens)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.norm(x))


def build(vocab: int, width: int, layers: int, heads: int, context: int, seed: int = 0):
    """``(graphdef, params)`` of a :class:`CharTransformer`; ``params`` is a plain nested dict."""
    model = CharTransformer(vocab, width, layers, heads, context, rngs=nnx.Rngs(seed))
    graphdef, state = nnx.split(model, nnx.Param)
    return graphdef, state.to_pure_dict()


def apply(graphdef: Any, params: Any, tokens: jax.Array) -> jax.Array:
    """Logits of the model ``graphdef`` with ``params`` (a pure dict) on ``tokens``."""
    state = nnx.State(params)
    model = nnx.merge(graphdef, state)
    return model(tokens)


def lm_loss(graphdef: Any, params: Any, tokens: jax.Array) -> jax.Array:
    """Mean next-character cross-entropy (nats) of ``tokens[:, 1:]`` given ``tokens[:, :-1]``."""
    logits = apply(graphdef, params, tokens[:, :-1])
    logp = jax.nn.log_softmax(logits)
    target = tokens[:, 1:]
    return -jnp.mean(jnp.take_along_axis(logp, target[..., None], axis=-1))
