r"""Sympy derivations for chapters 6 and 7: the local PL criterion and the positive initialisation.

Every function derives its result (solves, differentiates, factors) rather than typing it, and
returns sympy objects that the chapters display and the tests check against numerics.
Symbols carry assumptions so that square roots simplify without sign cases:
``a``, ``b`` (:math:`a > 0`, :math:`b \ge 0`: consecutive loss values), ``f0`` (:math:`f(x_0) > 0`),
``alpha``, ``beta``, ``r``, ``eta``, ``s``, ``G`` (squared gradient norm), ``mu``, ``u``, ``t``.

Contents

* :func:`sqrt_telescoping` — :math:`2(\sqrt a - \sqrt b) - (a-b)/\sqrt a = (\sqrt a - \sqrt b)^2/\sqrt a \ge 0`.
* :func:`flow_sqrt_slope` — :math:`\tfrac{d}{dt}\sqrt{f}` along gradient flow and its PL bound.
* :func:`descent_step` — the descent-lemma decrease along :math:`x - s\nabla f(x)`.
* :func:`gd_step_size_bound` — the largest admissible step :math:`\tfrac2\beta(1 - 2\sqrt{f_0/\alpha}/r)`.
* :func:`best_step_size` — the maximiser :math:`1/\beta` of :math:`\eta(1 - \beta\eta/2)`.
* :func:`lzb_to_criterion_ratio` — :math:`R_{\mathrm{LZB}} / (2\sqrt{f_0/\alpha}) = 2\sqrt{2\beta/\alpha}`.
* :func:`geometric_sqrt_bound` — :math:`1 - \sqrt{1-u} \ge u/2` on :math:`[0, 1]`.
* :func:`positive_init_threshold` — the output scale above which chapter 7's bound certifies the criterion.
"""
from __future__ import annotations

import sympy as sp

__all__ = [
    "G",
    "a",
    "alpha",
    "b",
    "best_step_size",
    "beta",
    "descent_step",
    "eta",
    "f0",
    "flow_sqrt_slope",
    "gd_step_size_bound",
    "geometric_sqrt_bound",
    "lzb_to_criterion_ratio",
    "mu",
    "p",
    "positive_init_threshold",
    "q",
    "r",
    "s",
    "sqrt_telescoping",
    "t",
    "u",
]

a = sp.Symbol("a", positive=True)
b = sp.Symbol("b", nonnegative=True)
f0 = sp.Symbol("f_0", positive=True)
alpha = sp.Symbol("alpha", positive=True)
beta = sp.Symbol("beta", positive=True)
r = sp.Symbol("r", positive=True)
eta = sp.Symbol("eta", positive=True)
s = sp.Symbol("s", positive=True)
G = sp.Symbol("G", positive=True)
mu = sp.Symbol("mu", positive=True)
u = sp.Symbol("u", nonnegative=True)
t = sp.Symbol("t", real=True)
p = sp.Symbol("p", positive=True)
q = sp.Symbol("q", nonnegative=True)


def sqrt_telescoping() -> tuple[sp.Expr, sp.Expr]:
    r"""The gap :math:`2(\sqrt a - \sqrt b) - (a - b)/\sqrt a` and its factored form.

    Sympy factors the gap after the substitution :math:`a = p^2`, :math:`b = q^2` (:math:`p > 0`,
    :math:`q \ge 0`): it is :math:`(p - q)^2/p = (\sqrt a - \sqrt b)^2/\sqrt a`, a square over a positive
    number, so :math:`(a-b)/\sqrt a \le 2(\sqrt a - \sqrt b)`.  Returns ``(gap, factored)`` with
    ``factored`` in the variables ``p``, ``q``.

    >>> sqrt_telescoping()[1]
    (p - q)**2/p
    """
    gap = 2 * (sp.sqrt(a) - sp.sqrt(b)) - (a - b) / sp.sqrt(a)
    factored = sp.factor(gap.subs({a: p**2, b: q**2}))
    return gap, factored


def flow_sqrt_slope() -> tuple[sp.Expr, sp.Expr]:
    r"""Along :math:`\dot x = -\nabla f(x)`: :math:`\tfrac{d}{dt}\sqrt{f(x_t)}` and its gap to :math:`-\tfrac{\sqrt\alpha}{2}\|\nabla f\|`.

    With :math:`F(t) = f(x_t) > 0` and :math:`F'(t) = -g^2` (:math:`g = \|\nabla f(x_t)\|`), the slope is
    :math:`-g^2/(2\sqrt F)`.  The gap ``slope + (sqrt(alpha)/2) g`` factors as
    :math:`-\tfrac{g}{2\sqrt F}\,(g - \sqrt{\alpha F})`, which is :math:`\le 0` whenever the PL inequality
    :math:`g^2 \ge \alpha F` holds.  Returns ``(slope, gap_factored)``.

    >>> slope, gap = flow_sqrt_slope()
    >>> slope
    -G**2/(2*sqrt(a))
    """
    F = sp.Function("F")
    slope = sp.diff(sp.sqrt(F(t)), t).subs(sp.Derivative(F(t), t), -G**2).subs(F(t), a)
    gap = sp.factor(slope + sp.sqrt(alpha) / 2 * G)
    return sp.simplify(slope), gap


def descent_step() -> sp.Expr:
    r"""Descent-lemma bound on :math:`f(x - s g) - f(x)` for a :math:`\beta`-Lipschitz gradient, :math:`\|g\|^2 = G`.

    The lemma :math:`f(y) \le f(x) + \nabla f(x)^\top (y-x) + \tfrac\beta2\|y-x\|^2` at :math:`y = x - s g`
    gives :math:`-sG + \tfrac\beta2 s^2 G`, returned factored: :math:`-sG(1 - \beta s/2)`.

    >>> descent_step()
    G*s*(beta*s - 2)/2
    """
    inner = -s * G  # grad f(x)^T (y - x) with y - x = -s g
    quad = beta / 2 * s**2 * G  # (beta/2) ||y - x||^2
    return sp.factor(inner + quad)


def gd_step_size_bound() -> sp.Expr:
    r"""The step :math:`\eta` at which the GD path bound :math:`2\sqrt{f_0/\alpha}/(1-\beta\eta/2)` equals :math:`r`.

    Solved by sympy: :math:`\eta_{\max} = \tfrac{2}{\beta}(1 - 2\sqrt{f_0/\alpha}/r)`; the path bound is
    increasing in :math:`\eta` on :math:`(0, 2/\beta)`, so every :math:`\eta < \eta_{\max}` keeps it below ``r``.

    >>> sp.simplify(gd_step_size_bound() - 2/beta*(1 - 2*sp.sqrt(f0/alpha)/r))
    0
    """
    length = 2 * sp.sqrt(f0 / alpha) / (1 - beta * eta / 2)
    (sol,) = sp.solve(sp.Eq(length, r), eta)
    return sp.simplify(sol)


def best_step_size() -> tuple[sp.Expr, sp.Expr]:
    r"""Maximiser and maximum of the per-step decrease factor :math:`\eta(1 - \beta\eta/2)`.

    >>> best_step_size()
    (1/beta, 1/(2*beta))
    """
    gain = eta * (1 - beta * eta / 2)
    (crit,) = sp.solve(sp.diff(gain, eta), eta)
    assert sp.diff(gain, eta, 2) < 0
    return crit, sp.simplify(gain.subs(eta, crit))


def lzb_to_criterion_ratio() -> sp.Expr:
    r"""Ratio of the PL* radius :math:`2\sqrt{2\beta f_0}/\mu` (with :math:`\mu = \alpha/2`) to :math:`2\sqrt{f_0/\alpha}`.

    >>> lzb_to_criterion_ratio()
    2*sqrt(2)*sqrt(beta)/sqrt(alpha)
    """
    R = 2 * sp.sqrt(2 * beta * f0) / mu
    return sp.simplify(R.subs(mu, alpha / 2) / (2 * sp.sqrt(f0 / alpha)))


def geometric_sqrt_bound() -> sp.Expr:
    r"""The gap :math:`(1 - u/2)^2 - (1 - u) = u^2/4 \ge 0`, so :math:`\sqrt{1-u} \le 1 - u/2` on :math:`[0, 1]`.

    Hence :math:`\sum_t q^{t/2} = 1/(1 - \sqrt q) \le 2/(1 - q)` for :math:`q = 1 - u`.

    >>> geometric_sqrt_bound()
    u**2/4
    """
    return sp.expand((1 - u / 2) ** 2 - (1 - u))


def positive_init_threshold() -> sp.Expr:
    r"""Output scale :math:`K` above which :math:`4 f_0 < r^2 \cdot 2\lambda\, m_1\, c^2 (K u - r)^2` with :math:`f_0 = \tfrac12\|y\|^2`.

    Symbols: :math:`\lambda = \lambda_{\min}(X^\top X)`, :math:`m_1` the first width, :math:`u` the smallest
    output weight per unit of :math:`K` (so the smallest output weight is :math:`\omega = Ku`), ``c`` the
    path factor of chapter 7's theorem, ``Y`` = :math:`\|y\|`.  Sympy solves the equality for
    :math:`K` and keeps the root with :math:`Ku - r > 0`:
    :math:`K^\ast = \bigl(r + \|y\| / (r c \sqrt{\lambda m_1})\bigr)/u`.

    >>> positive_init_threshold()
    Y/(c*sqrt(lambda)*sqrt(m_1)*r*u) + r/u
    """
    K, u_, c, lam, m1, Y = sp.symbols("K u c lambda m_1 Y", positive=True)
    f0_net = Y**2 / 2
    bound = r**2 * 2 * lam * m1 * c**2 * (K * u_ - r) ** 2
    roots = sp.solve(sp.Eq(4 * f0_net, bound), K)
    (root,) = [k for k in roots if sp.simplify(k * u_ - r).is_positive]
    return sp.simplify(root)
