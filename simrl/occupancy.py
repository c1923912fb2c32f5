"""Occupancy chi^2 regularization (Laidlaw et al. 2025): chi^2(mu_pi || mu_ref) between the
state-action occupancy measures of a policy and the reference, exact, with its gradient in
the logits (:mod:`simrl.kernels.occupancy`).

A policy-gradient optimizer maximizing J(pi) - lambda chi^2 adds the regularizer's part of
each step with :meth:`OccupancyChi2.step` (or, from inside a Numba kernel,
:func:`simrl.kernels.occupancy.chi2_step` on ``OccupancyChi2.d_ref``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simrl.kernels import occupancy as kocc
from simrl.policy import TabularPolicy


def occupancy_measure(policy: TabularPolicy, pool_positions: bool = False) -> np.ndarray:
    """mu(x, t, s, a): the probability that a uniformly drawn step of generation (prompts
    uniform, EOS a step) is in state (x, t, prev = s) and takes action a; shape
    (P, T, V + 1, V + 1), or (P, 1, V + 1, V + 1) with positions summed out. Sums to one."""
    d, _ = kocc.state_action_occupancy(policy.logp(), pool_positions)
    return d / d.sum()


@dataclass(frozen=True)
class OccupancyChi2:
    """chi^2(mu_pi || mu_ref) against a fixed reference.

    Attributes:
        d_ref: The reference's expected state-action visits per response,
            :func:`simrl.kernels.occupancy.state_action_occupancy`.
    """

    d_ref: np.ndarray

    @classmethod
    def of(cls, ref: TabularPolicy, pool_positions: bool = False) -> OccupancyChi2:
        """Against ``ref``; ``pool_positions`` sums the position out of the state."""
        d_ref, _ = kocc.state_action_occupancy(ref.logp(), pool_positions)
        d_ref.setflags(write=False)
        return cls(d_ref)

    def value(self, policy: TabularPolicy) -> float:
        """chi^2(mu_pi || mu_ref) (the value :meth:`value_and_grad` returns, without the
        gradient)."""
        return float(kocc.chi2_value(policy.logp(), self.d_ref))

    def value_and_grad(self, logits: np.ndarray) -> tuple[float, np.ndarray]:
        """chi^2 and its gradient in the effective logits table (for the shared logits,
        :func:`simrl.policy.shared_logit_grads`)."""
        g = np.zeros_like(logits, dtype=np.float64)
        logp = TabularPolicy(logits).logp()
        return float(kocc.chi2_grad(logp, self.d_ref, g)), g

    def step(
        self,
        theta: np.ndarray,
        u: np.ndarray,
        U: np.ndarray,
        shared: bool,
        coef: float,
        lr: float,
    ) -> float:
        """Add -lr coef grad chi^2 to the logits in place (``u`` and ``U`` too with
        ``shared``), as an SGD step on the policy's objective J - coef chi^2 does; returns
        chi^2 before the step."""
        return float(kocc.chi2_step(theta, u, U, shared, self.d_ref, coef, lr))
