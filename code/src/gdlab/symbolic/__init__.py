"""Sympy derivations, one module per topic; each function returns expressions the chapters display
and the tests check against the numerics.

* :mod:`gdlab.symbolic.stability` — quadratics, the 2/λ condition, the descent lemma (chapter 1).
* :mod:`gdlab.symbolic.linear_networks` — Hessians at minima and critical step sizes (chapters 2–3).
* :mod:`gdlab.symbolic.flip` — the flip (period-doubling) normal form and its period-2 orbit (chapters 4–5).
* :mod:`gdlab.symbolic.pl` — the local PL criterion: path-length bound and descent step (chapters 6–7).
"""

__all__ = ["flip", "linear_networks", "nonsingular", "pl", "stability"]


def __getattr__(name: str):  # noqa: ANN202 - lazy submodule access, as in gdlab/__init__.py
    if name in __all__:
        import importlib

        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'gdlab.symbolic' has no attribute {name!r}")
