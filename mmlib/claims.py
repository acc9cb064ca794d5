"""What the study concludes: the paper's two claims as tables of paired comparisons, each with a verdict.

    from mmlib import claims
    table1 = claims.claim1(pred)                          # matchmap vs concat, fusion vs unimodal, ...
    table2 = claims.claim2(sweep, rob, weak_level=0.0)    # the reliability sweep and degradation at test time
    claims.verdict(stats.paired(pred, "matchmap", "concat"))   # "shown: ...", "not shown" or "not testable: ..."

Claim 1: matchmap fusion beats the concat baseline. Claim 2: fusion helps most when one modality
underperforms. A row is *shown* only when its speaker-level interval excludes 0 and the exact sign-flip
test over folds x seeds gives p < alpha; with too few runs that test cannot reach alpha at all and the
row reads *not testable*, so a design limit is never reported as a finding.
"""

from __future__ import annotations

import pandas as pd

from mmlib import reliability, stats
from mmlib.models.fusion import UNIMODAL

CLAIM1_PAIRS = (("matchmap", "concat"), ("matchmap_attn", "concat"), ("matchmap", "audio"), ("matchmap", "video"),
                ("concat", "audio"), ("concat", "video"))


def verdict(test: dict, alpha: float = 0.05) -> str:
    """'shown' only when the speaker-level interval excludes 0 and the fold x seed test agrees. With too few
    runs the exact sign-flip test cannot reach `alpha` at all (n runs: p >= 2 / 2^n, 0.0625 for 5); such a
    comparison is 'not testable', never 'not shown', so a reader does not take a design limit for a finding."""
    runs = test.get("runs")
    if runs is not None and 2.0 ** (1 - runs) >= alpha:
        return f"not testable: {runs} runs (the sign-flip p cannot go below {2.0 ** (1 - runs):.3g})"
    if test["diff_lo"] > 0 and test["p_signflip"] < alpha:
        return f"shown: {test['model_a']} > {test['model_b']}"
    if test["diff_hi"] < 0 and test["p_signflip"] < alpha:
        return f"shown: {test['model_a']} < {test['model_b']}"
    return "not shown"


def claim1(pred: pd.DataFrame, pairs=CLAIM1_PAIRS, metric: str = "UA") -> pd.DataFrame:
    """Claim 1 measured: each (a, b) pair of models on the same folds x seeds (mean per-run difference,
    speaker-bootstrap interval, sign-flip and Wilcoxon p-values) and the verdict it supports."""
    rows = []
    for a, b in pairs:
        r = stats.paired(pred, a, b, metric)
        rows.append({"claim": f"{a} vs {b}", **r, "verdict": verdict(r)})
    return pd.DataFrame(rows)


def claim2(sweep: pd.DataFrame, rob: pd.DataFrame, weak_level: float, metric: str = "UA") -> pd.DataFrame:
    """Claim 2 measured, one row per comparison, with its verdict:

    - for each weakened modality (face, voice) and each fusion model of the sweep (in the sweep's order):
      does its gain over the best unimodal model change from expressiveness 1 to `weak_level`
      (reliability.gain_change);
    - for each degradation knob of `rob` (reliability.degradation's predictions) at its last (worst) level:
      each fusion model of `rob` against the unimodal model of the modality the knob leaves intact.
    """
    rows = []
    fused = [m for m in dict.fromkeys(sweep["model"]) if m not in UNIMODAL]
    for modality in ("face", "voice"):
        rows += [reliability.gain_change(sweep, modality, head, weak_level, metric=metric) for head in fused]
    fused = [m for m in dict.fromkeys(rob["model"]) if m not in UNIMODAL]
    for knob, g in rob.groupby("knob", sort=False):
        worst = list(dict.fromkeys(g["level"]))[-1]
        intact = "video" if knob.startswith("audio") else "audio"
        at = g[g["level"] == worst]
        rows += [{"claim": f"{head} vs the {intact}-only model at {knob} = {worst}", **stats.paired(at, head, intact,
                                                                                                    metric)}
                 for head in fused]
    out = pd.DataFrame(rows)
    out["verdict"] = [verdict(r) for r in out.to_dict("records")]
    return out
