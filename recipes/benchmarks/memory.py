r"""Peak memory of CLUB and L1OUT with a normalising-flow ``q(y | x)`` at large ``N``.

Both estimators evaluate the ``N x N`` matrix of ``log q(y_j | x_i)``. mist_reg evaluates
it in row chunks of at most ``max_pairs`` pairs (recomputed in the backward pass), so the
memory is the ``N x N`` result plus the activations of ``max_pairs`` flow evaluations,
instead of the activations of all ``N^2`` evaluations at once.

Each configuration runs in a fresh process (so that peak resident memory is its own):
one forward and backward of ``mutual_information`` on ``N`` samples. It prints the peak
memory and the time at ``--n`` (default 4,096), and at a smaller ``--compare-n`` (default
1,024) both chunked and with chunking disabled (``max_pairs = N * N``), which shows what
chunking saves (unchunked at 4,096 would need tens of GiB).

Needs zuko (``pip install -e ".[flows]"``).

Usage::

    python -m recipes.benchmarks.memory                 # N = 4096, x_dim = y_dim = 5
    python -m recipes.benchmarks.memory --n 2048 --compare-n 0   # no unchunked comparison
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch


def child_env(system_malloc: bool) -> dict[str, str]:
    """The environment of a measured child process.

    On CPU the peak resident memory is the measure. glibc's allocator serves tensors of a
    few MiB from its heap once a large block has been freed (its mmap threshold adapts
    upwards), and freed heap memory is often not reused for the next, differently sized
    tensors: the resident set then grows with every chunk although the live tensors do
    not. A fixed mmap threshold makes every large tensor its own mapping, returned to the
    system when freed, so that the peak RSS follows the live tensors (what CUDA's
    ``max_memory_allocated`` reports on a GPU).
    """
    env = dict(os.environ)
    if not system_malloc:
        env.setdefault("MALLOC_MMAP_THRESHOLD_", str(1 << 16))
    return env


def run_one(name: str, n: int, dim: int, max_pairs: int) -> dict:
    from mist_reg.estimators import instantiate_estimator

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    estimator = instantiate_estimator(name, x_dim=dim, y_dim=dim, hidden_dims=[64, 64], q="flow", max_pairs=max_pairs)
    estimator.to(device)
    x = torch.randn(n, dim, device=device, requires_grad=True)
    y = (x.detach() + torch.randn(n, dim, device=device)).requires_grad_()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
    else:
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    value = estimator.mutual_information(x, y)
    value.backward()
    seconds = time.perf_counter() - start
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "estimator": name,
        "n": n,
        "max_pairs": max_pairs,
        "peak_mib": peak / 2**20,
        "baseline_mib": baseline / 2**20,
        "seconds": seconds,
        "device": device,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--max-pairs", type=int, default=1 << 16)
    parser.add_argument("--compare-n", type=int, default=1024, help="N of the chunked/unchunked comparison (0: none)")
    parser.add_argument(
        "--system-malloc",
        action="store_true",
        help="keep glibc's default mmap threshold in the children (peak RSS then also counts freed heap memory)",
    )
    parser.add_argument("--child", nargs=2, metavar=("NAME", "MAX_PAIRS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child[0], args.n, args.dim, int(args.child[1]))))
        return
    settings = [(name, args.n, args.max_pairs) for name in ("club", "l1out")]
    if args.compare_n:
        for name in ("club", "l1out"):
            settings += [(name, args.compare_n, args.max_pairs), (name, args.compare_n, args.compare_n**2)]
    print(f"x_dim = y_dim = {args.dim}, flow q(y|x) (3 MAF transforms, 2x64 hidden), one forward and backward")
    for name, n, max_pairs in settings:
        command = [sys.executable, __file__, "--n", str(n), "--dim", str(args.dim), "--child", name, str(max_pairs)]
        done = subprocess.run(command, capture_output=True, text=True, env=child_env(args.system_malloc))
        if done.returncode != 0:
            print(f"{name:6s} N={n:5d} max_pairs={max_pairs:>10d}  failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{name:6s} N={n:5d} max_pairs={max_pairs:>10d}  peak {r['peak_mib']:6.0f} MiB ({r['peak_mib'] - r['baseline_mib']:+6.0f} over the set-up)  {r['seconds']:6.1f} s  ({r['device']})"
        )


if __name__ == "__main__":
    main()
