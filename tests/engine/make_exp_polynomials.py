"""Print the polynomials of csrc/math/activations.h: EXP_POLY (e^r) and EXPM1_POLY ((e^r - 1) / r)
for |r| <= ln 2 / 2, the range exp's Cody-Waite reduction leaves, in float32 and float64.

    python tests/engine/make_exp_polynomials.py      (needs mpmath: pip install mpmath)

e^r = 1 + r + r^2 Q(r) and e^r - 1 = r (1 + r / 2 + r^2 R(r)): the first terms are exact, so
the rounding of Q's and R's coefficients to the precision is scaled by r^2 <= 0.12. Q and R are
Chebyshev fits (near-minimax) of the degrees below, the lowest whose relative error, with the
coefficients rounded, stays well under the precision's eps; the printed errors are measured at
1501 Chebyshev points with 40 digits. The Taylor series these replace needed one degree more
(float32) or two (float64) for the same accuracy. tests/engine/test_cells_compiled.py checks
the compiled sigmoid and tanh against long double to 2 eps.
"""

import numpy as np

try:
    import mpmath as mp
except ImportError as e:  # pragma: no cover - a maintainer's script
    raise SystemExit("this script needs mpmath: pip install mpmath") from e

mp.mp.dps = 40
HALF_LN2 = mp.log(2) / 2
POINTS = [HALF_LN2 * mp.cos(mp.pi * k / 1500) for k in range(1501)]
# (precision, degree of Q, degree of R)
DEGREES = ((np.float32, 4, 3), (np.float64, 9, 9))


def q_exact(r):
    """(e^r - 1 - r) / r^2"""
    return (mp.exp(r) - 1 - r) / r**2 if r != 0 else mp.mpf(1) / 2


def r_exact(r):
    """((e^r - 1) / r - 1 - r / 2) / r^2"""
    return (mp.expm1(r) / r - 1 - r / 2) / r**2 if r != 0 else mp.mpf(1) / 6


def horner(coefs, r):
    s = mp.mpf(0)
    for c in reversed(coefs):
        s = s * r + c
    return s


def fit(f, degree, dtype):
    """f's Chebyshev fit of that degree on [-ln 2 / 2, ln 2 / 2], lowest coefficient first,
    rounded to dtype."""
    c = mp.chebyfit(f, [-HALF_LN2, HALF_LN2], degree + 1)
    return [dtype(float(c[degree - i])) for i in range(degree + 1)]


def exp_error(q):
    return max(
        abs((1 + r + r * r * horner([mp.mpf(float(v)) for v in q], r)) / mp.exp(r) - 1) for r in POINTS
    )


def expm1_error(rc):
    coefs = [mp.mpf(float(v)) for v in rc]
    return max(abs(r * (1 + r / 2 + r * r * horner(coefs, r)) / mp.expm1(r) - 1) for r in POINTS if r != 0)


def literal(v, dtype):
    if dtype == np.float32:
        return f"{np.format_float_positional(v, unique=True, trim='-')}f"
    return repr(float(v))


def nested(terms, dtype):
    """1 + r * (t1 + r * (t2 + ...)) as C, terms from the second on."""
    text = literal(terms[-1], dtype)
    for t in reversed(terms[:-1]):
        text = f"{literal(t, dtype) if not isinstance(t, str) else t} + r * ({text})"
    return f"(1 + r * ({text}))"


def main():
    for dtype, dq, dr in DEGREES:
        sfx = "f32" if dtype == np.float32 else "f64"
        q = fit(q_exact, dq, dtype)
        rc = fit(r_exact, dr, dtype)
        eps = np.finfo(dtype).eps
        print(
            f"/* {sfx}: e^r {mp.nstr(exp_error(q), 3)}, e^r - 1 {mp.nstr(expm1_error(rc), 3)} "
            f"relative (eps {eps:.2g}) */"
        )
        print(f"#define EXP_POLY_{sfx}(r) {nested(['1'] + q, dtype)}")
        print(f"#define EXPM1_POLY_{sfx}(r) {nested([dtype(0.5)] + rc, dtype)}")


if __name__ == "__main__":
    main()
