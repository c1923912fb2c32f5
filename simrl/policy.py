"""Tabular token policies: logits per state (prompt, position, previous token).

``logits[x, t, prev, a]`` with ``prev = 0`` meaning BOS at ``t = 0`` and action ``a = 0``
meaning EOS. The reference ("SFT") policy has structure: favoured tokens, a typical length,
little repetition.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from simrl.config import WorldConfig
from simrl.kernels.kl import (
    exact_kl,
    expected_length,
    expected_token_counts,
    length_distribution,
    policy_entropy,
)
from simrl.kernels.sampling import sample_responses, sequence_logprobs
from simrl.kernels.softmax import log_softmax_table
from simrl.world import coherence_table


@dataclass(frozen=True)
class TabularPolicy:
    """A Markov token policy given by its logits table, shape (P, T, V + 1, V + 1).

    The policy keeps a read-only copy of the logits it is given, so that its
    log-probability and CDF tables, computed once on first use, can never go stale.
    """

    logits: np.ndarray

    def __post_init__(self) -> None:
        logits = np.array(self.logits, dtype=np.float64, order="C", copy=True)
        logits.flags.writeable = False
        object.__setattr__(self, "logits", logits)  # frozen: set once, here

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(n_prompts, max_len, vocab_size)``."""
        P, T, _, A = self.logits.shape
        return P, T, A - 1

    def logp(self) -> np.ndarray:
        """log pi(a | s) table (read-only; computed once per policy)."""
        return self._logp

    @cached_property
    def _logp(self) -> np.ndarray:
        out = log_softmax_table(self.logits)
        out.flags.writeable = False
        return out

    def probs(self) -> np.ndarray:
        """pi(a | s) table; every row sums to one."""
        return np.exp(self.logp())

    def cdf(self) -> np.ndarray:
        """Cumulative probabilities over actions, the table the samplers read (read-only;
        computed once per policy)."""
        return self._cdf

    @cached_property
    def _cdf(self) -> np.ndarray:
        out = np.cumsum(self.probs(), axis=-1)
        out.flags.writeable = False
        return out

    def tempered(self, temperature: float) -> TabularPolicy:
        """pi^(1/temperature), renormalized per state: ``self`` at temperature 1 (dividing by
        1 changes no logit), otherwise made once per temperature and kept."""
        if temperature == 1.0:
            return self
        cache = self.__dict__.setdefault("_tempered", {})  # frozen: not a field
        if temperature not in cache:
            cache[temperature] = TabularPolicy(self.logits / temperature)
        return cache[temperature]

    def sample(
        self, prompts: np.ndarray, rng: np.random.Generator, cdf: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One response per prompt: ``(tokens[n, T], lengths[n])``."""
        _P, T, _ = self.shape
        prompts = np.ascontiguousarray(prompts, dtype=np.int64)
        tokens = np.zeros((prompts.shape[0], T), np.int64)
        lengths = np.zeros(prompts.shape[0], np.int64)
        sample_responses(self.cdf() if cdf is None else cdf, prompts, rng, tokens, lengths)
        return tokens, lengths

    def sequence_logprobs(
        self, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray
    ) -> np.ndarray:
        """log pi(y | x) of each response."""
        return sequence_logprobs(self.logp(), prompts, tokens, lengths)

    def kl(self, ref: TabularPolicy) -> np.ndarray:
        """Exact KL(self || ref) per prompt by forward recursion over state occupancy."""
        return exact_kl(self.logp(), ref.logp())

    def expected_length(self) -> np.ndarray:
        """Exact expected response length per prompt."""
        return expected_length(self.logp())

    def expected_token_counts(self) -> np.ndarray:
        """Exact expected count of each token per response, shape (P, V + 1)."""
        return expected_token_counts(self.logp())

    def length_distribution(self) -> np.ndarray:
        """Exact P(length = l | x) for l = 0..T, shape (P, T + 1)."""
        return length_distribution(self.logp())

    def entropy(self) -> np.ndarray:
        """Exact entropy of the response, H(x) = -sum_y pi(y | x) log pi(y | x), in nats per
        response, per prompt (see :func:`simrl.kernels.kl.policy_entropy`)."""
        return policy_entropy(self.logp())[0]

    def entropy_per_token(self) -> np.ndarray:
        """Exact entropy per action, H(x) / N(x) per prompt, where N(x) = E[L] + P(EOS) is
        the expected number of actions (content tokens and the closing EOS; a response cut
        at the cap takes no EOS)."""
        ent, actions = policy_entropy(self.logp())
        return ent / actions


def compose_logits(theta: np.ndarray, u: np.ndarray, U: np.ndarray) -> np.ndarray:
    """The effective logits table theta[x, t, prev] + u + U[x] of a policy with shared
    per-token (``u``, shape (V + 1,)) and per-prompt (``U``, shape (P, V + 1)) logits."""
    return theta + u + U[:, None, None, :]


def shared_logit_grads(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients in ``u`` and ``U`` from the gradient ``g`` in the effective logits table
    (:func:`compose_logits`): every state uses ``u`` and its prompt's ``U[x]``, so each is
    the sum of the row gradients of the states that use it."""
    return g.sum(axis=(0, 1, 2)), g.sum(axis=(1, 2))


def n_responses(vocab_size: int, max_len: int) -> int:
    """Number of possible responses to one prompt: sum_{L=0}^{T} V^L."""
    return sum(vocab_size**L for L in range(max_len + 1))


def enumerate_responses(vocab_size: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Every response of length 0..T over tokens 1..V: ``(tokens[n, T], lengths[n])``, in
    order of length then lexicographically. Only for small worlds (see :func:`n_responses`)."""
    V, T = vocab_size, max_len
    tokens = [np.zeros((1, T), np.int64)]
    lengths = [np.zeros(1, np.int64)]
    for L in range(1, T + 1):
        digits = np.indices((V,) * L).reshape(L, -1).T + 1  # all V^L sequences of length L
        block = np.zeros((digits.shape[0], T), np.int64)
        block[:, :L] = digits
        tokens.append(block)
        lengths.append(np.full(digits.shape[0], L, np.int64))
    return np.concatenate(tokens), np.concatenate(lengths)


def reference_policy(cfg: WorldConfig, polite_tokens: int = 0) -> TabularPolicy:
    """The structured reference ("SFT") policy of a world, drawn from ``cfg.seed``.

    Content logits: a shared token preference and a smaller prompt-specific one, scaled by
    ``ref_token_scale``; a bigram term ``ref_coherence B`` plus weak noise, where ``B`` is
    the world's coherence table that the gold also scores; ``ref_repeat_logit`` on
    repeating the previous token; ``ref_polite_logit`` on the first ``polite_tokens``
    content tokens. At position t (t tokens written) the EOS logit is
    logsumexp(content logits) + slope (t - ref_len), so the hazard of stopping crosses 1/2
    once ``ref_len`` tokens have been written.
    """
    rng = np.random.default_rng([cfg.seed, 0])
    P, T, V = cfg.n_prompts, cfg.max_len, cfg.vocab_size
    s = cfg.ref_token_scale
    shared = s * rng.standard_normal(V)
    per_prompt = 0.5 * s * rng.standard_normal((P, V))
    bigram = cfg.ref_coherence * coherence_table(cfg)[:, 1:] + 0.3 * s * rng.standard_normal(
        (V + 1, V)
    )
    logits = np.zeros((P, T, V + 1, V + 1))
    content = shared[None, None, :] + per_prompt[:, None, :] + bigram[None, :, :]  # (P, S, V)
    logits[:, :, :, 1:] = content[:, None, :, :]
    logits[..., 1 : polite_tokens + 1] += cfg.ref_polite_logit
    rep = np.arange(1, V + 1)
    logits[:, :, rep, rep] += cfg.ref_repeat_logit
    lse = np.log(np.exp(logits[..., 1:]).sum(axis=-1))
    t = np.arange(T)[None, :, None]
    logits[..., 0] = lse + cfg.ref_eos_slope * (t - cfg.ref_len)
    logits.setflags(write=False)
    return TabularPolicy(logits)
