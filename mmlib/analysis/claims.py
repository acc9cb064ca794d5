"""What the study concludes: the paper's two claims as tables of paired comparisons, each with a verdict.

    from mmlib.analysis import claims
    table1 = claims.claim1(pred)                          # matchmap vs concat, fusion vs unimodal, ...
    tests = claims.compare(pred, [("matchmap[train.rank_weight=0.0]", "concat")])   # any pairs, one family
    table2 = claims.claim2(sweep, rob, miss)              # the graded sweep's contrasts, degradation, missing modality
    claims.verdict(stats.paired(pred, "matchmap", "concat"))   # "shown: ...", "not shown" or "not testable: ..."
    claims.family(rows)                                   # any list of paired rows as a Holm-controlled family
    primary = claims.primary_tests(pred)                  # the declared primary test(s) (power.PRIMARY), one row each

Claim 1: matchmap fusion beats the concat baseline. Claim 2: fusion helps most when one modality
underperforms. Each table is one family: its fold-level t-test p-values are Holm-adjusted (`p_holm`).
A row is *shown* only when its two-stage interval (test speakers and training seeds) excludes 0 and its
Holm-adjusted p is below alpha; with a single fold nothing can be tested and the row reads *not
testable*, so a design limit is never reported as a finding. Every row also gives the exact sign-flip p
over folds and the smallest p that test could reach (`p_signflip_min`: 0.0625 over 5 folds).

Apart from the families, each claim has one primary test declared before the run (power.PRIMARY for claim 1:
matchmap - concat on UA, equivalence margin 4 points), tested alone: `primary_tests` gives one row per
declared contrast (power.COLUMNS: estimate, interval, p, minimum detectable effect, p against the paper's
effect, TOST p, verdict). Claim 2's primary row is built with power.primary_row from its own contrast and
appended to the same table (`pd.concat([primary, pd.DataFrame([row])])`).
"""

from __future__ import annotations

import pandas as pd

from mmlib.analysis import power, reliability, stats

CLAIM1_PAIRS = (("matchmap", "concat"), ("matchmap_attn", "concat"), ("matchmap", "audio"), ("matchmap", "video"),
                ("concat", "audio"), ("concat", "video"))


def verdict(test: dict, alpha: float = 0.05) -> str:
    """'shown' only when the two-stage interval excludes 0 and the fold-level test (Holm-adjusted when the row
    belongs to a family: p_holm, else p_t) is below `alpha`; 'not testable' with fewer than 2 folds. A trend row
    (reliability.trend: it names its `levels`) says how the difference moves as its modality weakens."""
    folds = test.get("folds")
    p = test.get("p_holm", test.get("p_t"))
    if (folds is not None and folds < 2) or p is None or pd.isna(p):
        return f"not testable: {folds} fold(s)"
    weakened = test.get("modality") if isinstance(test.get("levels"), str) else None
    return power.shown(test["model_a"], test["model_b"], test["diff_lo"], test["diff_hi"], p, alpha, weakened)


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


def primary_tests(pred: pd.DataFrame, declared=(power.PRIMARY,), n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The declared primary tests on a predictions table, one row per declaration (a dict like power.PRIMARY:
    claim, model_a, model_b, metric, margin, paper_effect, alpha, power): power.primary_test, columns
    power.COLUMNS first. Each row is its own family of one (no Holm adjustment)."""
    rows = [power.primary_test(pred, d["model_a"], d["model_b"], d["metric"], d["margin"], d["paper_effect"],
                               d.get("alpha", 0.05), d.get("power", 0.8), d["claim"], n_boot, seed)
            for d in declared]
    out = pd.DataFrame(rows)
    return out[list(power.COLUMNS) + [c for c in out.columns if c not in power.COLUMNS]]


CLAIM2_PRIMARY = {"model_a": "matchmap", "model_b": "concat", "metric": "UA", "margin": 0.04, "paper_effect": None,
                  "declared": "before the run: claim 2's primary contrast, per weakened modality, tested alone (no "
                              "Holm): the slope of matchmap - concat over the sweep's levels, per unit of level lost; "
                              "equivalence margin 4 UA points per unit; the paper gives no size for it"}


def primary_claim2(sweep: pd.DataFrame, declared: dict = CLAIM2_PRIMARY, n_boot: int = 2000,
                   seed: int = 0) -> pd.DataFrame:
    """Claim 2's primary tests on the sweep's predictions: per weakened modality, the slope of model_a - model_b
    over the levels (reliability.trend_terms) with its interval, fold-level p, minimum detectable effect and TOST at
    the declared margin (power.primary_row); rows to append to claim 1's primary table (claim "2 (face)", ...)."""
    rows = []
    for modality in sorted(sweep["modality"].unique()):
        levels, terms = reliability.trend_terms(sweep, modality, declared["model_a"], declared["model_b"])
        r, d, seeds = power.contrast_folds(terms, declared["metric"], n_boot, seed=seed)
        rows.append(power.primary_row(
            r, d, seeds, f"{declared['model_a']} - {declared['model_b']}: slope per unit of {modality} level lost "
            f"(levels {', '.join(f'{lv:g}' for lv in levels)})", declared["model_a"], declared["model_b"],
            declared["margin"], declared["paper_effect"], claim=f"2 ({modality})", weakened=modality))
    out = pd.DataFrame(rows)
    return out[list(power.COLUMNS) + [c for c in out.columns if c not in power.COLUMNS]]


def with_primary(existing: pd.DataFrame | None, rows: pd.DataFrame) -> pd.DataFrame:
    """The primary-test table with `rows` in place of any earlier rows of the same claims (a notebook rerun
    replaces its own rows, never duplicates them); `existing` None when no table was written yet."""
    if existing is None or existing.empty:
        return rows.reset_index(drop=True)
    keep = existing[~existing["claim"].astype(str).isin(set(rows["claim"].astype(str)))]
    return pd.concat([keep, rows], ignore_index=True)


def claim2(sweep: pd.DataFrame, rob: pd.DataFrame | None = None, miss: pd.DataFrame | None = None,
           head: str = "matchmap", baseline: str = "concat", metric: str = "UA",
           degradation_levels: dict[str, str] | None = None) -> pd.DataFrame:
    """Claim 2 measured ("fusion gives better results when one of the unimodal signals is underperforming"),
    one Holm family, each row naming its contrast (column `contrast`):

    (a) for each weakened modality of the sweep: how `head` - `baseline` changes as that modality weakens
        (reliability.trend: the slope over the graded levels; > 0: matchmap's advantage grows);
    (b) for each weakened modality and level below 1: `head` - the unimodal model of the intact modality
        (known by design, no selection: does fusion add to the intact stream while the other underperforms?),
        and the trend of that gain over the levels;
    degradation: for each knob of `rob` (reliability.degradation, clean normalizer) at the level
        `degradation_levels[knob]` (fixed before the run; default: the knob's last level), `head` against the
        unimodal model of the intact modality;
    missing modality: each variant of `head` trained with modality dropout (so a zero-filled stream is an input
        it met in training) given one stream (`miss`, sweep.missing_modality) against that stream's unimodal
        model.

    `head` itself given one zero-filled stream, which it never met in training, measures its fragility rather
    than what a stream contributes: those rows follow the family, outside it (p_holm NaN; verdict on p_t).
    """
    rows = []
    controls = reliability.with_controls(sweep)
    for modality in [m for m in ("face", "voice") if m in set(sweep["modality"])]:
        lv = f"{modality} reliability"
        t = reliability.trend(controls, modality, head, baseline, metric)
        rows.append({"contrast": "(a) advantage over the baseline vs weakness",
                     "claim": f"{head} - {baseline}: change per unit of lost {lv} (levels {t['levels']})", **t})
        g = controls[controls["modality"] == modality]
        intact = reliability.INTACT_MODEL[modality]
        for level in sorted(g["level"].unique()):
            if level < 1.0:
                at = g[g["level"] == level]
                rows.append({"contrast": "(b) gain over the intact modality's model",
                             "claim": f"{head} - the {intact} model at {lv} {level:g}", "modality": modality,
                             "level": level, **stats.paired(at, head, intact, metric)})
        t = reliability.trend(controls, modality, head, intact, metric)
        rows.append({"contrast": "(b) gain over the intact modality's model vs weakness",
                     "claim": f"{head} - the {intact} model: change per unit of lost {lv} (levels {t['levels']})",
                     **t})
    if rob is not None and not rob.empty:
        clean = rob[rob["normalizer"] == "clean"] if "normalizer" in rob else rob
        for knob, g in clean.groupby("knob", sort=False):
            # the level declared before the run (claim2_levels), else the last one run
            level = (degradation_levels or {}).get(knob, list(dict.fromkeys(g["level"]))[-1])
            if level not in set(g["level"]):
                raise ValueError(f"{knob}: level {level!r} was not run; levels {list(dict.fromkeys(g['level']))}")
            intact = "video" if knob.startswith("audio") else "audio"
            at = g[g["level"] == level]
            rows.append({"contrast": "degradation at test time", "claim": f"{head} vs the {intact} model at "
                         f"{knob} = {level}", **stats.paired(at, head, intact, metric)})
    fragility = []
    if miss is not None and not miss.empty:
        trained = [m for m in dict.fromkeys(miss["model"]) if m.startswith(f"{head}[") and DROPOUT_KEY in m]
        for given, uni in (("audio only", "audio"), ("video only", "video")):
            b = miss[(miss["model"] == uni) & (miss["condition"] == given)]
            other = "video" if uni == "audio" else "audio"
            arms = [(m, rows, MISSING_TRAINED, f"{head} + modality dropout ({m.split('[', 1)[1].rstrip(']')}) given "
                     f"{uni} only") for m in trained]
            arms.append((head, fragility, FRAGILITY, f"fragility: {head} given {uni} only ({other} zero-filled, "
                         "unseen in training)"))
            for model, into, contrast, what in arms:
                a = miss[(miss["model"] == model) & (miss["condition"] == given)]
                if a.empty or b.empty:
                    continue
                both = pd.concat([a.assign(model=f"{model} ({given})"), b], ignore_index=True)
                into.append({"contrast": contrast, "claim": f"{what} vs the {uni} model",
                             **stats.paired(both, f"{model} ({given})", uni, metric)})
    out = family(rows)
    if not fragility:
        return out
    outside = pd.DataFrame(fragility).assign(p_holm=float("nan"))
    outside["verdict"] = [verdict({k: v for k, v in r.items() if k != "p_holm"}) for r in outside.to_dict("records")]
    return pd.concat([out, outside], ignore_index=True)


DROPOUT_KEY = "train.modality_dropout"  # in the name of a model trained with modality dropout (session.model_name)
MISSING_TRAINED = "missing modality at test time, an input the model was trained for (modality dropout)"
FRAGILITY = ("fragility, outside the family: a zero-filled stream the model never met in training (the verdict "
             "uses the unadjusted fold-level p)")
