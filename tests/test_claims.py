"""mmlib.analysis.claims on hand-made predictions: the claims tables notebooks 03 and 05 save, row by row."""

import numpy as np
import pandas as pd
import pytest

from mmlib.analysis import claims, reliability, stats

CLASSES = ["neu", "hap", "sad", "ang"]


def predictions(accuracy: dict[str, float], seed: int = 0, folds=(1, 2, 3, 4, 5), seeds=(42, 43), **cols):
    """Per model, fold, seed: 2 test speakers x 8 utterances; each utterance right with the model's accuracy."""
    rng = np.random.default_rng(seed)
    rows = []
    for model, acc in accuracy.items():
        for fold in folds:
            for s in seeds:
                for spk in range(2):
                    for u in range(8):
                        true = CLASSES[u % 4]
                        right = rng.random() < acc
                        pred = true if right else CLASSES[(u + 1) % 4]
                        rows.append({"id": f"f{fold}s{spk}u{u}", "fold": fold, "seed": s, "model": model,
                                     "speaker": f"F{fold}S{spk}", "true": true, "pred": pred,
                                     **{f"p_{c}": 0.7 if c == pred else 0.1 for c in CLASSES}, **cols})
    return pd.DataFrame(rows)


def test_claim1_rows_are_paired_tests_with_their_verdicts():
    pred = predictions({"audio": 0.4, "video": 0.5, "concat": 0.6, "matchmap": 0.9, "matchmap_attn": 0.6})
    table = claims.claim1(pred)
    assert table["claim"].tolist() == [f"{a} vs {b}" for a, b in claims.CLAIM1_PAIRS]
    first = stats.paired(pred, "matchmap", "concat")
    assert table.loc[0, "diff"] == pytest.approx(first["diff"]) and table.loc[0, "runs"] == 10
    assert table.loc[0, "verdict"] == claims.verdict(first) == "shown: matchmap > concat"


def sweep_degradation_missing():
    """A graded face and voice sweep (levels 0, 0.5, 1: the face model weakens), degradation at two knobs and
    missing-modality predictions, each with the columns the notebook's tables have."""
    sweep = pd.concat([predictions({"audio": 0.5, "video": 0.5 * lv + 0.25, "concat": 0.55, "matchmap": 0.6},
                                   seed=int(10 * lv) + k, modality=m, level=lv)
                       for k, m in enumerate(("face", "voice")) for lv in (1.0, 0.5, 0.0)], ignore_index=True)
    sweep["val_ua"] = np.where(sweep["model"] == "audio", 0.5, np.where(sweep["model"] == "video", 0.4, np.nan))
    rob = pd.concat([predictions({"audio": 0.5, "video": 0.5, "matchmap": 0.6}, seed=k, knob=knob, level=level,
                                 normalizer="clean")
                     for k, (knob, level) in enumerate([("audio.snr_db", "clean"), ("audio.snr_db", "10"),
                                                        ("video.occlusion", "0"), ("video.occlusion", "0.3")])],
                    ignore_index=True)
    drop = "matchmap[train.modality_dropout=0.5]"
    miss = pd.concat([predictions({"matchmap": 0.45, drop: 0.5, "audio": 0.5}, seed=7, condition="audio only"),
                      predictions({"matchmap": 0.3, drop: 0.4, "video": 0.4}, seed=8, condition="video only")],
                     ignore_index=True)
    return sweep, rob, miss


def test_claim2_names_each_contrast_and_tests_it_on_the_sweep_degradation_and_missing_modality():
    sweep, rob, miss = sweep_degradation_missing()
    table = claims.claim2(sweep, rob, miss)
    assert table["claim"].tolist() == [
        "matchmap - concat: change per unit of lost face reliability (levels 0, 0.5, 1)",
        "matchmap - the audio model at face reliability 0", "matchmap - the audio model at face reliability 0.5",
        "matchmap - the audio model: change per unit of lost face reliability (levels 0, 0.5, 1)",
        "matchmap - concat: change per unit of lost voice reliability (levels 0, 0.5, 1)",
        "matchmap - the video model at voice reliability 0", "matchmap - the video model at voice reliability 0.5",
        "matchmap - the video model: change per unit of lost voice reliability (levels 0, 0.5, 1)",
        "matchmap vs the video model at audio.snr_db = 10", "matchmap vs the audio model at video.occlusion = 0.3",
        "matchmap + modality dropout (train.modality_dropout=0.5) given audio only vs the audio model",
        "matchmap + modality dropout (train.modality_dropout=0.5) given video only vs the video model",
        "fragility: matchmap given audio only (video zero-filled, unseen in training) vs the audio model",
        "fragility: matchmap given video only (audio zero-filled, unseen in training) vs the video model"]
    assert table["contrast"].nunique() == 6
    assert table["contrast"].iloc[-2:].tolist() == [claims.FRAGILITY] * 2
    assert table["contrast"].iloc[-4:-2].tolist() == [claims.MISSING_TRAINED] * 2
    assert table.loc[0, "diff"] == pytest.approx(reliability.trend(sweep, "face", "matchmap", "concat")["diff"])
    face0 = reliability.with_controls(sweep)
    face0 = face0[(face0["modality"] == "face") & (face0["level"] == 0.0)]
    assert table.loc[1, "diff"] == pytest.approx(stats.paired(face0, "matchmap", "audio")["diff"])
    assert table.loc[3, "diff"] == pytest.approx(reliability.trend(sweep, "face", "matchmap", "audio")["diff"])
    worst = rob[(rob["knob"] == "audio.snr_db") & (rob["level"] == "10")]
    assert table.loc[8, "diff"] == pytest.approx(stats.paired(worst, "matchmap", "video")["diff"])
    fam, frag = table.iloc[:-2], table.iloc[-2:]
    # Holm runs over the family only; the fragility rows (a zero-filled stream matchmap never met in training)
    # follow it with no adjusted p and a verdict on their unadjusted p
    assert fam["p_holm"].tolist() == pytest.approx(stats.holm(fam["p_t"].to_numpy()).tolist())
    assert fam["verdict"].tolist() == [claims.verdict(r) for r in fam.to_dict("records")]
    assert frag["p_holm"].isna().all()
    assert frag["verdict"].tolist() == [claims.verdict({**r, "p_holm": r["p_t"]}) for r in frag.to_dict("records")]
    m = miss[miss["condition"] == "audio only"]
    expected = stats.paired(pd.concat([m[m["model"] == "matchmap"].assign(model="x"), m[m["model"] == "audio"]]),
                            "x", "audio")
    assert frag["diff"].iloc[0] == pytest.approx(expected["diff"])


def test_claim2_without_degradation_or_missing_rows_keeps_the_sweep_contrasts():
    sweep, _, _ = sweep_degradation_missing()
    table = claims.claim2(sweep[sweep["modality"] == "face"], head="matchmap", baseline="concat")
    assert len(table) == 4 and set(table["contrast"]) == {"(a) advantage over the baseline vs weakness",
                                                          "(b) gain over the intact modality's model",
                                                          "(b) gain over the intact modality's model vs weakness"}


def test_verdicts_of_fold_level_tests():
    from tests.predictions import make_pred

    a = make_pred("a", lambda k: 0.85, seeds=(42, 43), rs=1)
    b = make_pred("b", lambda k: 0.45, seeds=(42, 43), rs=2)
    r = stats.paired(pd.concat([a, b]), "a", "b", "UA", n_boot=500)
    assert claims.verdict(r) == "shown: a > b"
    assert claims.verdict({**r, "diff_lo": -0.01}) == "not shown"  # the interval must exclude 0 as well
    assert claims.verdict({**r, "p_holm": 0.2}) == "not shown"  # the family's adjusted p decides when given
    assert claims.verdict({**r, "diff_lo": -0.3, "diff_hi": -0.1}) == "shown: a < b"
    # a trend over a sweep (it names its levels) is a slope: the words say how a - b moves as the modality weakens
    trend = {**r, "levels": "0, 0.5, 1", "modality": "face"}
    assert claims.verdict(trend) == "shown: a - b grows as the face weakens"
    assert claims.verdict({**trend, "diff_lo": -0.3, "diff_hi": -0.1}) == "shown: a - b falls as the face weakens"
    assert claims.verdict({**trend, "diff_lo": -0.01}) == "not shown"
    assert claims.verdict({**r, "levels": float("nan"), "modality": "face"}) == "shown: a > b"  # a per-level row
    one = stats.paired(pd.concat([a, b])[lambda d: d["fold"] == 1], "a", "b", "UA", n_boot=200)
    assert one["folds"] == 1 and claims.verdict(one) == "not testable: 1 fold(s)"


def test_a_claims_family_is_holm_adjusted():
    rows = [{"claim": c, "model_a": "a", "model_b": "b", "folds": 5, "diff_lo": 0.1, "diff_hi": 0.2, "p_t": p}
            for c, p in (("x", 0.01), ("y", 0.02), ("z", 0.04))]
    table = claims.family(rows)
    assert table["p_holm"].tolist() == pytest.approx([0.03, 0.04, 0.04])
    assert table["verdict"].tolist() == ["shown: a > b"] * 3
    table = claims.family(rows + [{**rows[0], "claim": "w", "p_t": 0.5}])
    assert table["p_holm"].tolist() == pytest.approx([0.04, 0.06, 0.08, 0.5])
    assert table["verdict"].tolist() == ["shown: a > b", "not shown", "not shown", "not shown"]


def test_claim2_primary_rows_are_the_trend_contrast_with_power_and_replace_earlier_rows():
    from mmlib.analysis import power

    sweep, _, _ = sweep_degradation_missing()
    rows = claims.primary_claim2(sweep)
    assert rows["claim"].tolist() == ["2 (face)", "2 (voice)"]
    assert list(rows.columns[:len(power.COLUMNS)]) == list(power.COLUMNS)
    for r in rows.itertuples():  # the same slope, bootstrap interval and fold-level p as reliability.trend
        t = reliability.trend(sweep, r.claim[3:-1], "matchmap", "concat")
        assert (r.estimate, r.boot_lo, r.boot_hi, r.p) == pytest.approx((t["diff"], t["diff_lo"], t["diff_hi"],
                                                                          t["p_t"]))
        assert r.interval == "t over fold means" and (r.lo > 0 or r.hi < 0) == (r.p < 0.05)  # the test's own
        assert np.isnan(r.p_vs_paper) and "gain is" not in r.verdict and "equivalence within ±4 points" in r.verdict
        assert r.mde > 0
    claim1 = pd.DataFrame({"claim": ["1", "2 (face)"], "contrast": ["a", "stale"]})
    merged = claims.with_primary(claim1, rows)
    assert merged["claim"].tolist() == ["1", "2 (face)", "2 (voice)"] and "stale" not in merged["contrast"].tolist()
    assert claims.with_primary(None, rows).equals(rows.reset_index(drop=True))
