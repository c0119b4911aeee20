r"""The default :func:`mist_reg.estimate_mi` on counts: ``y`` a Poisson or negative-binomial count
whose log-mean is linear in ``d`` standard normal features, at eight configurations (16 to
250 count values, 2 to 32 features), one draw of 5,000 rows each.

The truth is ``H(Y) - E H(Y | X)``: the count distributions are summed in closed form over
their values, and the mean over ``x`` is a Monte Carlo mean over 4,000 draws (its standard
error is a few thousandths of a nat). Printed per configuration: the number of count values,
the truth, the estimate, their ratio, the estimator reported and the seconds; then the mean
abs. error. Run it on two commits to compare them on the same draws.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.count_labels
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from mist_reg import estimate_mi

CONFIGURATIONS = (
    # features, scale of the log-mean's slope, log-mean at x = 0, negative-binomial shape (0: Poisson)
    (4, 1.0, 1.0, 0),
    (8, 1.0, 1.0, 0),
    (8, 1.5, 2.0, 0),
    (16, 1.0, 0.5, 0),
    (2, 1.2, 3.0, 0),
    (8, 1.0, 1.5, 3),
    (4, 1.5, 2.0, 5),
    (32, 1.0, 1.0, 0),
)
_COUNTS = torch.arange(0, 3000, dtype=torch.float64)  # far beyond any count drawn


def _log_pmf(mean: torch.Tensor, shape: float) -> torch.Tensor:
    r"""``[N, C]`` log-probabilities of the counts ``0 .. C-1`` at each row's mean."""
    k, mean = _COUNTS, mean[:, None]
    if not shape:
        return k * mean.log() - mean - torch.lgamma(k + 1)
    r = torch.tensor(float(shape), dtype=torch.float64)
    return (
        torch.lgamma(k + r)
        - torch.lgamma(k + 1)
        - torch.lgamma(r)
        + r * torch.log(r / (r + mean))
        + k * torch.log(mean / (r + mean))
    )


def draw(
    d: int, scale: float, base: float, shape: float, seed: int, n: int = 5000
) -> tuple[float, torch.Tensor, torch.Tensor]:
    r"""The truth and ``n`` rows ``(x, y)`` of one configuration (``seed`` also fixes the slope).

    Example:
        >>> truth, x, y = draw(2, 1.0, 1.0, 0, seed=0, n=100)
        >>> 0.0 < truth < 2.0, tuple(x.shape), y.dtype, bool((y >= 0).all())
        (True, (100, 2), torch.int64, True)
    """
    slope = torch.randn(d, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64) * scale / d**0.5

    def means(rows: int, stream: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(rows, d, generator=torch.Generator().manual_seed(stream), dtype=torch.float64)
        return x, (base + x @ slope).exp()

    log_pmf = _log_pmf(means(4000, 999)[1], shape)
    marginal = log_pmf.exp().mean(0)
    truth = float(-(marginal * marginal.clamp_min(1e-300).log()).sum()) + float((log_pmf.exp() * log_pmf).sum(1).mean())
    x, mean = means(n, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    if shape:  # a gamma-mixed Poisson is negative binomial
        mean = (
            mean
            * torch._standard_gamma(torch.full((n,), float(shape), dtype=torch.float64), generator=generator)
            / shape
        )
    return truth, x.float(), torch.poisson(mean, generator=generator).long()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    errors, seconds = [], []
    for i, (d, scale, base, shape) in enumerate(CONFIGURATIONS):
        truth, x, y = draw(d, scale, base, shape, i)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # count values seen on a single row
            result = estimate_mi(x, y)
        seconds.append(time.perf_counter() - start)
        errors.append(abs(float(result) - truth))
        kind = f"negative binomial r={shape}" if shape else "Poisson"
        print(
            f"{kind:24s} d={d:2d} slope {scale:g} base {base:g}: {len(y.unique()):4d} values  truth {truth:.3f}  "
            f"estimate {float(result):.3f} ({float(result) / truth:.3f}x)  {result.estimator_name} ({seconds[-1]:.1f} s)",
            flush=True,
        )
    print(f"mean abs. error {statistics.fmean(errors):.4f}, median s {statistics.median(seconds):.2f}")


if __name__ == "__main__":
    main()
