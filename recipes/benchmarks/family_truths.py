"""Recompute the stored Monte Carlo truths of the task families and print them as the
table of ``mist_reg/tasks/truth_table.py`` (paste the output there).

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.family_truths > /tmp/table.txt
"""

from __future__ import annotations

from mist_reg.tasks.families import compute_truth_table


def main() -> None:
    table = compute_truth_table()
    print("TRUTH_TABLE: dict[str, tuple[float, float]] = {")
    for key, (mi, se) in sorted(table.items()):
        print(f'    "{key}": ({mi!r}, {se!r}),')
    print("}")


if __name__ == "__main__":
    main()
