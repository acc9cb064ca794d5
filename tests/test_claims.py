"""mmlib.claims on hand-made predictions: the claims tables notebooks 03 and 05 save, row by row."""

import numpy as np
import pandas as pd
import pytest

from mmlib import claims, reliability, stats

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
                        rows.append({"id": f"f{fold}s{spk}u{u}", "fold": fold, "seed": s, "model": model,
                                     "speaker": f"F{fold}S{spk}", "true": true,
                                     "pred": true if right else CLASSES[(u + 1) % 4], **cols})
    return pd.DataFrame(rows)


def test_claim1_rows_are_paired_tests_with_their_verdicts():
    pred = predictions({"audio": 0.4, "video": 0.5, "concat": 0.6, "matchmap": 0.9, "matchmap_attn": 0.6})
    table = claims.claim1(pred)
    assert table["claim"].tolist() == [f"{a} vs {b}" for a, b in claims.CLAIM1_PAIRS]
    first = stats.paired(pred, "matchmap", "concat")
    assert table.loc[0, "diff"] == pytest.approx(first["diff"]) and table.loc[0, "runs"] == 10
    assert table.loc[0, "verdict"] == claims.verdict(first) == "shown: matchmap > concat"


def sweep_and_degradation(dropout_heads=("matchmap",)):
    sweep = pd.concat([predictions({"audio": 0.5, "video": 0.5 * lv + 0.25, "matchmap": 0.6}, seed=int(10 * lv),
                                   modality=m, level=lv)
                       for m in ("face", "voice") for lv in (1.0, 0.0)], ignore_index=True)
    drop = {f"{h}[train.modality_dropout=0.5]": 0.55 for h in dropout_heads}
    rob = pd.concat([predictions({"audio": 0.5, "video": 0.5, "concat": 0.6, "matchmap": 0.6, **drop},
                                 seed=k, knob=knob, level=level)
                     for k, (knob, level) in enumerate([("audio.snr_db", "clean"), ("audio.snr_db", "-10"),
                                                        ("video.occlusion", "0"), ("video.occlusion", "0.9")])],
                    ignore_index=True)
    return sweep, rob


def test_claim2_rows_follow_the_sweep_and_the_worst_degradation_level():
    sweep, rob = sweep_and_degradation()
    table = claims.claim2(sweep, rob, weak_level=0.0)
    dropped = "matchmap[train.modality_dropout=0.5]"
    assert table["claim"].tolist() == [
        "matchmap: gain over the best unimodal model at face expressiveness 0 minus at 1",
        "matchmap: gain over the best unimodal model at voice expressiveness 0 minus at 1",
        "concat vs the video-only model at audio.snr_db = -10", "matchmap vs the video-only model at audio.snr_db = -10",
        f"{dropped} vs the video-only model at audio.snr_db = -10",
        "concat vs the audio-only model at video.occlusion = 0.9",
        "matchmap vs the audio-only model at video.occlusion = 0.9",
        f"{dropped} vs the audio-only model at video.occlusion = 0.9"]
    assert table.loc[0, "diff"] == pytest.approx(reliability.gain_change(sweep, "face", "matchmap", 0.0)["diff"])
    worst = rob[(rob["knob"] == "audio.snr_db") & (rob["level"] == "-10")]
    assert table.loc[3, "diff"] == pytest.approx(stats.paired(worst, "matchmap", "video")["diff"])
    assert table["verdict"].tolist() == [claims.verdict(r) for r in table.to_dict("records")]


def test_claim2_takes_whatever_dropout_models_were_trained():
    """No model is picked by name: dropout models of concat only (no matchmap) give their own rows."""
    sweep, rob = sweep_and_degradation(dropout_heads=("concat",))
    table = claims.claim2(sweep, rob, weak_level=0.0)
    assert "concat[train.modality_dropout=0.5] vs the video-only model at audio.snr_db = -10" in set(table["claim"])
    assert not table["claim"].str.contains("matchmap\\[").any()


def test_verdicts_of_fold_level_tests():
    from tests.predictions import make_pred

    a = make_pred("a", lambda k: 0.85, seeds=(42, 43), rs=1)
    b = make_pred("b", lambda k: 0.45, seeds=(42, 43), rs=2)
    r = stats.paired(pd.concat([a, b]), "a", "b", "UA", n_boot=500)
    assert claims.verdict(r) == "shown: a > b"
    assert claims.verdict({**r, "diff_lo": -0.01}) == "not shown"  # the interval must exclude 0 as well
    assert claims.verdict({**r, "p_holm": 0.2}) == "not shown"  # the family's adjusted p decides when given
    assert claims.verdict({**r, "diff_lo": -0.3, "diff_hi": -0.1}) == "shown: a < b"
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
