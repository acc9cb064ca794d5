"""The targets a study must meet before its verdicts can answer, and how far a run is from each.

    from mmlib.analysis import targets
    t = targets.table(refs, summary, primary)   # tables/references.csv, results_summary.csv, primary_tests.csv
    targets.by_size(curve_summary, curve_power)  # the same UA and power targets at each size of a learning curve

Declared before any run, in UA points (fractions here):

    at or above the probe      every model's UA at least its linear probe's (mmlib.analysis.references): a model
                               below a linear model on the same pooled features has not learned what they hold
    near its ceiling           every model within CEILING_GAP of its large-draw oracle (audio: arousal only,
                               video: valence only, fusion: both)
    seed range                 the median over folds of a model's seed range (best minus worst seed within a
                               fold) at most SEED_RANGE: training noise small beside the effects tested
    claim 1's power            the minimum detectable effect of claim 1's primary test (80 % power, alpha 0.05,
                               from its own fold-level variance) at most MDE

`value` is the quantity a target bounds (UA - probe; ceiling - UA; the seed range; the MDE) and `met` whether it
is within `bound`; `short` how far it is (0 when met).
"""

from __future__ import annotations

import pandas as pd

CEILING_GAP = 0.05
SEED_RANGE = 0.04
MDE = 0.04
PRIMARY_CLAIM = "1"  # the primary test whose power is a target (power.PRIMARY's claim)

TARGETS = {  # name -> (what the value is, bound, "min": value >= bound / "max": value <= bound)
    "at or above the probe": ("UA - probe", 0.0, "min"),
    f"within {100 * CEILING_GAP:.0f} points of its large-draw oracle": ("large-draw oracle - UA", CEILING_GAP, "max"),
    f"median seed range at most {100 * SEED_RANGE:.0f} points": ("median over folds of the seed range", SEED_RANGE,
                                                                  "max"),
    f"claim 1's detectable effect at most {100 * MDE:.0f} points": ("minimum detectable effect (80 % power)", MDE,
                                                                     "max"),
}


def _row(target: str, subject: str, value: float) -> dict:
    what, bound, side = TARGETS[target]
    short = max(0.0, bound - value) if side == "min" else max(0.0, value - bound)
    return {"target": target, "subject": subject, "value_is": what, "value": float(value), "bound": bound,
            "met": bool(short == 0.0), "short": float(short)}


def table(refs: pd.DataFrame, summary: pd.DataFrame, primary: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per target and model (and one for claim 1's power): `refs` references.table's rows (model, UA_mean,
    probe, oracle_large_draw), `summary` metrics.summarize's (model, UA_seed_range), `primary` the primary-test
    table (claim, contrast, mde). A model without a reference (a real corpus has no oracle) skips that row."""
    names = list(TARGETS)
    seed = summary.set_index("model")["UA_seed_range"]
    rows = []
    for r in refs.itertuples():
        if pd.notna(r.probe):
            rows.append(_row(names[0], r.model, r.UA_mean - r.probe))
        if pd.notna(r.oracle_large_draw):
            rows.append(_row(names[1], r.model, r.oracle_large_draw - r.UA_mean))
        if r.model in seed.index and pd.notna(seed[r.model]):
            rows.append(_row(names[2], r.model, seed[r.model]))
    if primary is not None:
        p = primary[primary["claim"].astype(str) == PRIMARY_CLAIM]
        if len(p):
            rows.append(_row(names[3], p["contrast"].iloc[0], p["mde"].iloc[0]))
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return out.sort_values("target", key=lambda t: t.map(names.index), kind="stable").reset_index(drop=True)


def by_size(summary: pd.DataFrame, power: pd.DataFrame | None = None,
            reference_of: dict[str, tuple[str, str]] | None = None,
            heads=("audio", "video", "concat", "matchmap")) -> pd.DataFrame:
    """The UA targets (probe, ceiling) and claim 1's power at each size of a learning curve (mmlib.runner.curve:
    `summary` its summary.csv, `power` its power.csv), on validation speakers: per size, how many heads are at or
    above their probe, how many within CEILING_GAP of their large-draw oracle, the MDE, and whether all hold.
    `reference_of`: head -> (probe, large-draw oracle); a head not in it (fusion) uses the both-cue ones."""
    reference_of = reference_of or {}
    ua = summary.pivot_table(index="model", columns="labelled_per_speaker", values="UA")
    mde = {} if power is None else dict(zip(power["labelled_per_speaker"], power["mde"]))
    refs = {h: reference_of.get(h, ("probe: both", "oracle (large draw): both")) for h in heads}
    present = [h for h in heads if h in ua.index and set(refs[h]) <= set(ua.index)]
    rows = []
    for size in ua.columns:
        at_probe = near = 0
        for h in present:
            probe, large = refs[h]
            at_probe += bool(ua.loc[h, size] >= ua.loc[probe, size])
            near += bool(ua.loc[large, size] - ua.loc[h, size] <= CEILING_GAP)
        m = mde.get(size, float("nan"))
        rows.append({"labelled_per_speaker": size, "heads": len(present), "at_or_above_probe": at_probe,
                     "near_ceiling": near, "mde": m,
                     "all_met": at_probe == len(present) and near == len(present) and bool(m <= MDE)})
    return pd.DataFrame(rows)
