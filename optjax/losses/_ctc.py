"""Connectionist temporal classification (CTC) loss, with its forward variables."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax.losses import _utils


def _check_ctc_inputs(logits, logit_paddings, labels, label_paddings, *, name: str):
    logits = _utils.check_floating("logits", logits, where=name)
    logit_paddings = jnp.asarray(logit_paddings)
    labels, label_paddings = jnp.asarray(labels), jnp.asarray(label_paddings)
    _utils.check_rank("logits", logits, 3, where=name)
    _utils.check_rank("labels", labels, 2, where=name)
    _utils.check_same_shape(("labels", "label_paddings"), labels, label_paddings, where=name)
    if logit_paddings.shape != logits.shape[:2]:
        raise ValueError(
            f"{name}: logit_paddings must have shape logits.shape[:2], got "
            f"logits.shape={logits.shape} and logit_paddings.shape={logit_paddings.shape}."
        )
    if labels.shape[0] != logits.shape[0]:
        raise ValueError(
            f"{name}: labels and logits must have the same batch size, got "
            f"labels.shape={labels.shape} and logits.shape={logits.shape}."
        )
    return logits, logit_paddings, labels, label_paddings


def ctc_loss_with_forward_probs(
    logits: jax.typing.ArrayLike,
    logit_paddings: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    label_paddings: jax.typing.ArrayLike,
    *,
    blank_id: int = 0,
    log_epsilon: jax.typing.ArrayLike = -1e5,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """CTC loss and the log forward variables of the alignment lattice.

    CTC sums the probabilities of every frame-level alignment :math:`\\pi` of
    the label sequence :math:`y` with blanks :math:`\\phi` inserted:
    :math:`\\ell = -\\log \\sum_{\\pi \\to y} \\prod_t p_t(\\pi_t)`. The sum is a
    forward recursion over two kinds of state per label position :math:`n`:

    .. math::

        \\alpha_{\\phi}(t, n) = \\sum_{\\pi_{1:t-1}} p(\\pi_t = \\phi \\mid
        \\pi_{1:t-1}, y_{1:n}), \\qquad
        \\alpha_{y}(t, n) = \\sum_{\\pi_{1:t-1}} p(\\pi_t = y_n \\mid
        \\pi_{1:t-1}, y_{1:n-1})

    (blank after the first :math:`n` labels, and the :math:`n`-th label being
    emitted). Impossible transitions carry the weight ``log_epsilon``, a finite
    stand-in for :math:`\\log 0` that keeps gradients finite. Padded frames
    leave the forward variables unchanged.

    Args:
      logits: floating ``[B, T, K]`` array of per-frame class scores, blank
        included.
      logit_paddings: ``[B, T]`` array, 1.0 at padded frames and 0.0 elsewhere.
      labels: integer ``[B, N]`` label sequences.
      label_paddings: ``[B, N]`` array, 1.0 at padded labels; the padding must
        be at the right end of each row (zeros, then ones).
      blank_id: the class index of the blank.
      log_epsilon: the log-weight used for impossible transitions.

    Returns:
      ``(loss, logalpha_blank, logalpha_nonblank)``: the ``[B]`` losses and the
      ``[T, B, N + 1]`` and ``[T, B, N]`` arrays of
      :math:`\\log \\alpha_{\\phi}(t, n)` and :math:`\\log \\alpha_{y}(t, n)`.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: if a rank or shape does not fit.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits = jnp.zeros((1, 3, 2))  # uniform over {blank, "a"}
      >>> labels = jnp.array([[1]])
      >>> loss, alpha_blank, alpha_label = losses.ctc_loss_with_forward_probs(
      ...     logits, jnp.zeros((1, 3)), labels, jnp.zeros((1, 1)))
      >>> print(f"{loss[0]:.4f}")  # -log(6/8): 6 of the 8 paths spell "a"
      0.2877
      >>> alpha_blank.shape, alpha_label.shape
      ((3, 1, 2), (3, 1, 1))

    References:
      Graves et al., *Connectionist Temporal Classification: Labelling
      Unsegmented Sequence Data with Recurrent Neural Networks*, ICML 2006.
      https://dl.acm.org/doi/abs/10.1145/1143844.1143891
    """
    name = "ctc_loss_with_forward_probs"
    logits, logit_paddings, labels, label_paddings = _check_ctc_inputs(
        logits, logit_paddings, labels, label_paddings, name=name
    )
    batch, _, num_classes = logits.shape
    if not -num_classes <= blank_id < num_classes:
        raise ValueError(
            f"{name}: blank_id must be a class index in [0, {num_classes}), got {blank_id!r}."
        )
    blank_id = blank_id % num_classes
    max_label_len = labels.shape[1]

    log_probs = jax.nn.log_softmax(logits)
    label_lengths = max_label_len - jnp.sum(label_paddings, axis=1).astype(jnp.int32)
    # is_repeat[b, n]: label n + 1 repeats label n, so a blank must separate them.
    is_repeat = (labels[:, :-1] == labels[:, 1:]).astype(jnp.float32)
    is_repeat = jnp.pad(is_repeat, ((0, 0), (0, 1)))

    # Time-major per-frame log-probabilities of the blank and of each label.
    blank_logp = jnp.transpose(log_probs[:, :, blank_id : blank_id + 1], (1, 0, 2))
    label_one_hot = jax.nn.one_hot(labels, num_classes=num_classes)
    label_logp = jnp.transpose(jnp.einsum("btk,bnk->btn", log_probs, label_one_hot), (1, 0, 2))

    # Before the first frame only "blank after zero labels" is reachable.
    init_blank = (jnp.ones((batch, max_label_len + 1)) * log_epsilon).at[:, 0].set(0.0)
    init_label = jnp.ones((batch, max_label_len)) * log_epsilon

    def add_to_blank_after_label(blank, score):
        # Adds (in log space) score[:, n] to the blank state after label n + 1.
        return jnp.concatenate([blank[:, :1], jnp.logaddexp(blank[:, 1:], score)], axis=-1)

    def step(carry, frame):
        blank, label = carry
        frame_label_logp, frame_blank_logp, pad = frame
        # A label state may move to the following blank state without emitting,
        # except when the next label repeats it.
        blank_in = add_to_blank_after_label(blank, label + log_epsilon * is_repeat)
        # Emit label n from the blank before it or from label n itself.
        new_label = jnp.logaddexp(blank_in[:, :-1] + frame_label_logp, label + frame_label_logp)
        new_blank = blank_in + frame_blank_logp
        # Label to blank by emitting a blank: needed only between repeats.
        new_blank = add_to_blank_after_label(
            new_blank, label + frame_blank_logp + log_epsilon * (1.0 - is_repeat)
        )
        pad = pad.reshape((batch, 1))
        new_label = pad * label + (1.0 - pad) * new_label
        new_blank = pad * blank + (1.0 - pad) * new_blank
        return (new_blank, new_label), (new_blank, new_label)

    frames = (label_logp, blank_logp, jnp.transpose(logit_paddings, (1, 0)))
    _, (logalpha_blank, logalpha_label) = jax.lax.scan(step, (init_blank, init_label), frames)

    # After the last frame, the final label state also ends the sequence.
    final_blank = add_to_blank_after_label(logalpha_blank[-1], logalpha_label[-1])
    logalpha_blank = logalpha_blank.at[-1].set(final_blank)
    end_state = jax.nn.one_hot(label_lengths, num_classes=max_label_len + 1)
    loss = -jnp.einsum("bn,bn->b", final_blank, end_state)
    return loss, logalpha_blank, logalpha_label


def ctc_loss(
    logits: jax.typing.ArrayLike,
    logit_paddings: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    label_paddings: jax.typing.ArrayLike,
    *,
    blank_id: int = 0,
    log_epsilon: jax.typing.ArrayLike = -1e5,
) -> jax.Array:
    """Connectionist temporal classification (CTC) loss.

    .. math::

        \\ell = -\\log \\sum_{\\pi \\to y} \\prod_t p_t(\\pi_t)

    the negative log-probability of the label sequence, summed over every
    blank-inserted frame alignment. See :func:`ctc_loss_with_forward_probs`
    for the recursion.

    Args:
      logits: floating ``[B, T, K]`` array of per-frame class scores, blank
        included.
      logit_paddings: ``[B, T]`` array, 1.0 at padded frames and 0.0 elsewhere.
      labels: integer ``[B, N]`` label sequences.
      label_paddings: ``[B, N]`` array, 1.0 at padded labels (right-padded).
      blank_id: the class index of the blank.
      log_epsilon: the log-weight used for impossible transitions.

    Returns:
      The ``[B]`` losses.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits = jnp.zeros((1, 3, 2))
      >>> loss = losses.ctc_loss(logits, jnp.zeros((1, 3)), jnp.array([[1]]), jnp.zeros((1, 1)))
      >>> print(jnp.round(loss, 4))
      [0.2877]

    References:
      Graves et al., *Connectionist Temporal Classification: Labelling
      Unsegmented Sequence Data with Recurrent Neural Networks*, ICML 2006.
      https://dl.acm.org/doi/abs/10.1145/1143844.1143891
    """
    loss, _, _ = ctc_loss_with_forward_probs(
        logits, logit_paddings, labels, label_paddings, blank_id=blank_id, log_epsilon=log_epsilon
    )
    return loss
