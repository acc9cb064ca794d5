"""mmlib.analysis.oracle: the corpus's known answers on the models' folds, and each model's gap to its ceiling."""

import numpy as np
import pandas as pd
import pytest

from mmlib.analysis import metrics, oracle
from mmlib.config import SynthConfig
from mmlib.data.synthetic.plan import NEUTRAL


def test_cues_follow_the_expressiveness_knobs():
    truth = pd.DataFrame({"id": ["a", "b"], "expr_valence": [0.8, -0.6], "expr_arousal": [0.5, 0.9]})
    full = oracle.cues(truth, SynthConfig())
    assert full.loc["a"].tolist() == [0.8, 0.5] and full.loc["b"].tolist() == [-0.6, 0.9]
    no_face = oracle.cues(truth, SynthConfig(face_expressiveness=0.0))
    assert (no_face["valence"] == NEUTRAL[0]).all() and no_face["arousal"].tolist() == [0.5, 0.9]
    half_voice = oracle.cues(truth, SynthConfig(voice_expressiveness=0.5))
    assert half_voice.loc["a", "arousal"] == pytest.approx(NEUTRAL[1] + 0.5 * (0.5 - NEUTRAL[1]))


def test_oracle_predicts_each_folds_test_utterances(quick_session):
    s = quick_session
    pred = oracle.predictions(s)
    assert list(dict.fromkeys(pred["model"])) == list(oracle.CUES)
    for name, g in pred.groupby("model"):
        assert sorted(g["id"]) == sorted(s.folds[0].test) and (g["seed"] == 0).all()
        truth = s.table.set_index("id").loc[g["id"], "label"].to_numpy()
        assert (g["true"].to_numpy() == truth).all()
    ua = metrics.per_fold(pred).set_index("model")["UA"]
    assert ua["oracle: both"] >= max(ua["oracle: arousal only"], ua["oracle: valence only"]) - 1e-9
    assert oracle.predictions(s).equals(pred)  # deterministic


def test_no_oracle_on_a_real_corpus(quick_session):
    from dataclasses import replace

    real = replace(quick_session, cfg=quick_session.cfg.with_overrides({"data.dataset": "iemocap", "data.root": "/x"}))
    assert oracle.truth_file(real.cfg) is None and oracle.predictions(real).empty
    assert oracle.gaps(pd.DataFrame({"model": ["audio"], "UA_mean": [0.5]}), pd.DataFrame()).empty


def test_gaps_measure_each_model_against_its_own_ceiling():
    summary = pd.DataFrame({"model": ["audio", "video", "matchmap", "matchmap[train.rank_weight=0.0]"],
                            "UA_mean": [0.5, 0.55, 0.7, 0.65], "UA_lo": 0.4, "UA_hi": 0.8, "UA_seed_range": 0.03})
    ceilings = pd.DataFrame({"model": list(oracle.CUES), "UA_mean": [0.84, 0.65, 0.67]})
    g = oracle.gaps(summary, ceilings).set_index("model")
    assert g.loc["audio", "ceiling"] == "oracle: arousal only" and g.loc["audio", "gap"] == pytest.approx(0.15)
    assert g.loc["video", "ceiling"] == "oracle: valence only" and g.loc["video", "gap"] == pytest.approx(0.12)
    assert g.loc["matchmap[train.rank_weight=0.0]", "ceiling"] == "oracle: both"
    assert np.allclose(g["gap"], [0.15, 0.12, 0.14, 0.19])
    assert oracle.ceiling_values(["audio", "concat"], ceilings) == {"audio": 0.65, "concat": 0.84}
