"""Numba kernels: pure functions of arrays and scalars, no Python objects.

Randomness enters only as an explicit ``numpy.random.Generator`` argument; Numba draws the
same numbers from it as NumPy does, so every kernel's ``.py_func`` is an exact reference.

Layout conventions shared by all kernels:

* token 0 is EOS, content tokens are ``1..V``;
* a response is a row of ``tokens[n, T]`` (``int64``) with its length in ``lengths[n]``;
  entries past the length are 0;
* policy tables have shape ``(P, T, V + 1, V + 1)``: prompt, position, previous token
  (0 = BOS at position 0) and next action (0 = EOS).
"""
