"""Does a rerun reproduce a run's conclusions? Compare every verdict table of two run folders.

    mmlib compare results/default results/rerun        # prints the table and a conclusion; exit 0 / 1
    python -c "from mmlib.runner.compare import compare_runs; print(compare_runs('results/default', 'results/rerun'))"

The first run is the reference (the committed one), the second the rerun. Every CSV in `tables/` with a
`verdict` column is compared (tables/primary_tests.csv, the claims tables claims_clean.csv and claim2.csv,
the ablation and normalization tests, ...), row by row; rows are matched on the columns that name them
(KEYS: claim, contrast, modality, level, ... whichever the table has). For each row:

- the verdict, with its p-values in parentheses left out ("a +7-point gain is rejected (p = 0.004)" and
  "(p = 0.006)" read the same: the decision is compared, not the digits);
- the estimate (`estimate` or `diff`): it *moved* when it changed by more than a quarter of the width of the
  reference's interval (`lo`/`hi` or `diff_lo`/`diff_hi`); without a finite reference interval any change moves.

The run reproduces when every verdict is the same, no estimate moved, every row of a table both runs have is
in both, and at least one row was compared. A table only one run has is reported and not compared (a newer
rerun may add a table). The manifests' CPU (`machine`: cpu_model, cpu_capability) is printed when known:
runs on different CPUs may differ in their last digits.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mmlib.analysis.power import RERUN_SHIFT

KEYS = ("claim", "contrast", "modality", "level", "levels", "model", "condition", "knob", "model_a", "model_b",
        "metric")
ESTIMATES = (("estimate", "lo", "hi"), ("diff", "diff_lo", "diff_hi"))
SHIFT = RERUN_SHIFT  # an estimate moved when |change| > SHIFT x the reference interval's width
_P = re.compile(r"\s*\(p\s*[=<>]\s*[^)]*\)")


@dataclass
class Comparison:
    """What compare_runs found: `rows` (one per compared or unmatched row), tables only one run has."""

    rows: pd.DataFrame
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)

    @property
    def flips(self) -> int:
        return int((self.rows["status"] == "verdict flips").sum())

    @property
    def moved(self) -> int:
        return int(self.rows["moved"].fillna(False).astype(bool).sum())

    @property
    def unmatched(self) -> int:
        return int(self.rows["status"].str.startswith("only in").sum())

    @property
    def compared(self) -> int:
        return int(self.rows["status"].isin(["same", "verdict flips"]).sum())

    @property
    def reproduces(self) -> bool:
        return self.compared > 0 and self.flips == 0 and self.moved == 0 and self.unmatched == 0

    def conclusion(self) -> str:
        tables = "".join(f"; {name} only in {which}, not compared" for which, names in (("A", self.only_in_a),
                                                                                      ("B", self.only_in_b))
                         for name in names)
        if self.reproduces:
            return (f"reproduces: every verdict the same, every estimate within a quarter of its interval "
                    f"({self.compared} rows){tables}")
        if self.compared == 0:
            return f"does not reproduce: no verdict table row in both runs{tables}"
        parts = [f"{self.flips} verdict{'s' if self.flips != 1 else ''} flip",
                 (f"{self.moved} estimate{'s' if self.moved != 1 else ''} moved by more than a quarter of the "
                  "reference interval")]
        if self.unmatched:
            parts.append(f"{self.unmatched} row{'s' if self.unmatched != 1 else ''} in one run only")
        return f"does not reproduce: {', '.join(parts)} ({self.compared} rows compared){tables}"


def normalize_verdict(v) -> str:
    """A verdict without its parenthesized p-values: the decision only."""
    return "" if pd.isna(v) else _P.sub("", str(v)).strip()


def verdict_tables(run: str | Path) -> dict[str, pd.DataFrame]:
    """The tables of a run folder (tables/*.csv) that have a `verdict` column, by file name."""
    out = {}
    for path in sorted(Path(run, "tables").glob("*.csv")):
        try:
            table = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            continue
        if "verdict" in table.columns:
            out[path.name] = table
    return out


def _labels(table: pd.DataFrame) -> list[str]:
    """A label per row: the values of the fewest naming columns (KEYS, in order) that tell the rows apart, each
    value once (model == model_a); the row number is added where all of them do not."""
    keys = [k for k in KEYS if k in table.columns]

    def label(n: int) -> list[str]:
        return [" | ".join(dict.fromkeys(str(v) for v in row if not pd.isna(v)))
                for row in table[keys[:n]].itertuples(index=False)] if n else [""] * len(table)

    labels = next((lab for n in range(1, len(keys) + 1) if len(set(lab := label(n))) == len(table)), label(len(keys)))
    total, seen = Counter(labels), Counter()
    out = []
    for lab in labels:
        seen[lab] += 1
        out.append(lab if total[lab] == 1 else f"{lab} #{seen[lab]}")
    return out


def _estimate(row: pd.Series) -> tuple[float, float, float]:
    for est, lo, hi in ESTIMATES:
        if est in row.index:
            return (float(row[est]), float(row.get(lo, math.nan)), float(row.get(hi, math.nan)))
    return math.nan, math.nan, math.nan


def compare_tables(name: str, a: pd.DataFrame, b: pd.DataFrame) -> list[dict]:
    """Row by row: verdicts (normalize_verdict), the estimates' change against SHIFT x the reference width."""
    a, b = a.set_axis(_labels(a)), b.set_axis(_labels(b))
    rows = []
    for label in list(a.index) + [x for x in b.index if x not in a.index]:
        if label not in b.index or label not in a.index:
            rows.append({"table": name, "row": label, "status": f"only in {'A' if label in a.index else 'B'}",
                         "verdict_a": a["verdict"].get(label), "verdict_b": b["verdict"].get(label),
                         "estimate_a": math.nan, "estimate_b": math.nan, "change": math.nan, "allowed": math.nan,
                         "moved": None})
            continue
        ra, rb = a.loc[label], b.loc[label]
        est_a, lo, hi = _estimate(ra)
        est_b = _estimate(rb)[0]
        change = est_b - est_a
        allowed = SHIFT * (hi - lo) if math.isfinite(hi - lo) else 0.0
        if math.isnan(est_a) and math.isnan(est_b):
            moved = False
        else:
            moved = not (abs(change) <= allowed)  # a NaN on one side only counts as moved
        same = normalize_verdict(ra["verdict"]) == normalize_verdict(rb["verdict"])
        rows.append({"table": name, "row": label, "status": "same" if same else "verdict flips",
                     "verdict_a": ra["verdict"], "verdict_b": rb["verdict"], "estimate_a": est_a, "estimate_b": est_b,
                     "change": change, "allowed": allowed, "moved": moved})
    return rows


def machine(run: str | Path) -> str | None:
    """'cpu model (capability)' from a run's manifest.json, None when the manifest does not say."""
    try:
        m = json.loads(Path(run, "manifest.json").read_text()).get("machine", {})
    except (OSError, ValueError):
        return None
    if not m.get("cpu_model") and not m.get("cpu_capability"):
        return None
    return f"{m.get('cpu_model') or 'unknown CPU'} ({m.get('cpu_capability') or 'capability unknown'})"


def compare_runs(run_a: str | Path, run_b: str | Path) -> Comparison:
    """Every verdict table of run_a (the reference) against run_b's (the rerun)."""
    for run in (run_a, run_b):
        if not Path(run, "tables").is_dir():
            raise FileNotFoundError(f"{run}: no tables/ folder (not a run folder?)")
    ta, tb = verdict_tables(run_a), verdict_tables(run_b)
    rows = [r for name in ta if name in tb for r in compare_tables(name, ta[name], tb[name])]
    columns = ["table", "row", "status", "verdict_a", "verdict_b", "estimate_a", "estimate_b", "change", "allowed",
               "moved"]
    return Comparison(pd.DataFrame(rows, columns=columns), [n for n in ta if n not in tb], [n for n in tb if n not in ta])


def report(result: Comparison, run_a: str | Path, run_b: str | Path) -> str:
    """The printed report: the runs and their CPUs, one line per row, the conclusion last."""
    lines = [f"A (reference): {run_a}" + (f"  [{machine(run_a)}]" if machine(run_a) else ""),
             f"B (rerun):     {run_b}" + (f"  [{machine(run_b)}]" if machine(run_b) else "")]
    for name in result.only_in_a:
        lines.append(f"{name}: only in A, not compared")
    for name in result.only_in_b:
        lines.append(f"{name}: only in B, not compared")
    if len(result.rows):
        for name, group in result.rows.groupby("table", sort=False):
            width = max(len(name) + 1, *(len(str(r)) for r in group["row"]))
            lines.append(f"{name + ':':<{width}}  {'A':>8} {'B':>8} {'B - A':>8} {'allowed':>8}  estimate  verdict")
            for r in group.itertuples():
                if r.status.startswith("only in"):
                    lines.append(f"{r.row:<{width}}  {r.status}")
                    continue
                lines.append(f"{r.row:<{width}}  {r.estimate_a:8.4f} {r.estimate_b:8.4f} {r.change:+8.4f} "
                             f"{r.allowed:8.4f}  {'MOVED' if r.moved else 'ok':<8}  {r.status}: {r.verdict_a}")
                if r.status == "verdict flips":
                    lines.append(f"{'':<{width}}  {'':>35}  {'':<8}  now: {r.verdict_b}")
    lines.append(result.conclusion())
    return "\n".join(lines)


def main(run_a: str | Path, run_b: str | Path) -> int:
    """Print the comparison; 0 when run_b reproduces run_a, else 1."""
    result = compare_runs(run_a, run_b)
    print(report(result, run_a, run_b))
    return 0 if result.reproduces else 1
