"""What the study concludes: the paper's two claims as tables of paired comparisons, each with a verdict.

    from mmlib import claims
    table1 = claims.claim1(pred)                          # matchmap vs concat, fusion vs unimodal, ...
    tests = claims.compare(pred, [("matchmap[train.rank_weight=0.0]", "concat")])   # any pairs, one family
    table2 = claims.claim2(sweep, rob, weak_level=0.0)    # the reliability sweep and degradation at test time
    claims.verdict(stats.paired(pred, "matchmap", "concat"))   # "shown: ...", "not shown" or "not testable: ..."
    claims.family(rows)                                   # any list of paired rows as a Holm-controlled family

Claim 1: matchmap fusion beats the concat baseline. Claim 2: fusion helps most when one modality
underperforms. Each table is one family: its fold-level t-test p-values are Holm-adjusted (`p_holm`).
A row is *shown* only when its two-stage interval (test speakers and training seeds) excludes 0 and its
Holm-adjusted p is below alpha; with a single fold nothing can be tested and the row reads *not
testable*, so a design limit is never reported as a finding. Every row also gives the exact sign-flip p
over folds and the smallest p that test could reach (`p_signflip_min`: 0.0625 over 5 folds).
"""

from __future__ import annotations

import pandas as pd

from mmlib import oracle, reliability, stats
from mmlib.models.fusion import UNIMODAL

CLAIM1_PAIRS = (("matchmap", "concat"), ("matchmap_attn", "concat"), ("matchmap", "audio"), ("matchmap", "video"),
                ("concat", "audio"), ("concat", "video"))


def verdict(test: dict, alpha: float = 0.05) -> str:
    """'shown' only when the two-stage interval excludes 0 and the fold-level test (Holm-adjusted when the row
    belongs to a family: p_holm, else p_t) is below `alpha`; 'not testable' with fewer than 2 folds."""
    folds = test.get("folds")
    p = test.get("p_holm", test.get("p_t"))
    if (folds is not None and folds < 2) or p is None or pd.isna(p):
        return f"not testable: {folds} fold(s)"
    if test["diff_lo"] > 0 and p < alpha:
        return f"shown: {test['model_a']} > {test['model_b']}"
    if test["diff_hi"] < 0 and p < alpha:
        return f"shown: {test['model_a']} < {test['model_b']}"
    return "not shown"


def family(rows: list[dict], alpha: float = 0.05) -> pd.DataFrame:
    """A claims table from its rows: Holm-adjusted fold-level p-values over the rows, then each row's verdict."""
    out = pd.DataFrame(rows)
    out["p_holm"] = stats.holm(out["p_t"].to_numpy(float))
    out["verdict"] = [verdict(r, alpha) for r in out.to_dict("records")]
    return out


def compare(pred: pd.DataFrame, pairs, metric: str = "UA") -> pd.DataFrame:
    """Each (a, b) pair of models on the runs and utterances both have (mean difference, two-stage interval,
    fold-level p-values), as one Holm-controlled family with verdicts."""
    return family([{"claim": f"{a} vs {b}", **stats.paired(pred, a, b, metric)} for a, b in pairs])


def claim1(pred: pd.DataFrame, pairs=CLAIM1_PAIRS, metric: str = "UA") -> pd.DataFrame:
    """Claim 1 measured: matchmap fusion against the concat baseline and both against the unimodal models."""
    return compare(pred, pairs, metric)


def claim2(sweep: pd.DataFrame, rob: pd.DataFrame, weak_level: float, metric: str = "UA") -> pd.DataFrame:
    """Claim 2 measured, one row per comparison, with its verdict:

    - for each weakened modality (face, voice) and each fusion model of the sweep (in the sweep's order):
      does its gain over the best unimodal model change from expressiveness 1 to `weak_level`
      (reliability.gain_change);
    - for each degradation knob of `rob` (reliability.degradation's predictions) at its last (worst) level:
      each fusion model of `rob` against the unimodal model of the modality the knob leaves intact.
    """
    rows = []
    fused = [m for m in dict.fromkeys(sweep["model"]) if m not in UNIMODAL and not oracle.is_oracle(m)]
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
    return family(rows)
