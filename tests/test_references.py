"""mmlib.analysis.references: the pooled features on hand-made inputs, the probe on features whose answer is known,
no test utterance in any fit, the large-draw oracle on an independent draw, the table beside every model."""

import numpy as np
import pandas as pd
import pytest

from mmlib.analysis import metrics, references
from mmlib.config import load_config
from mmlib.data.features import FeatureSet
from mmlib.data.splits import Fold


def test_pooled_audio_and_video_on_hand_made_inputs():
    mel = np.array([[[0.0, 2.0, 4.0], [1.0, 1.0, 1.0]], [[9.0, 9.0, 9.0], [9.0, 9.0, 9.0]]])  # 2 channels, 2 bands
    got = references.pooled_audio(mel)  # only the first channel is read
    np.testing.assert_allclose(got, [2.0, 1.0, np.sqrt(8 / 3), 0.0, 3.6, 1.0, 2.0, 0.0])
    clip = np.zeros((2, 16, 16, 3), np.uint8)
    clip[0, :8] = 30  # frame 0: top half 30; frame 1: all 0 -> mean 15 on the top cells, sd 15 there
    got = references.pooled_video(clip, grid=2)
    np.testing.assert_allclose(got, [15, 15, 0, 0, 15, 15, 0, 0])
    chunked = np.stack([clip, clip])  # (K, T, H, W, 3): the chunks pooled together
    np.testing.assert_allclose(references.pooled_video(chunked, grid=2), got)
    with pytest.raises(ValueError, match="smaller than the 8 x 8 grid"):
        references.pooled_video(np.zeros((2, 4, 4, 3), np.uint8))


def test_speaker_standardized_per_speaker():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [10.0, 0.0], [30.0, 2.0]])
    got = references.speaker_standardized(x, ["a", "a", "b", "b"])
    np.testing.assert_allclose(got, [[-1, 0], [1, 0], [-1, -1], [1, 1]])


def _corpus(n_spk=6, per_class=6, classes=("neu", "hap", "sad", "ang"), seed=0):
    """Utterances of n_spk speakers whose voice tells sad and angry from neutral and happy (every log-mel band
    raised, plus a speaker offset that the speaker standardization removes) and whose face tells neutral and sad
    from happy and angry (brightness): each probe alone tells two pairs apart (UA 0.5), both together all four."""
    rng = np.random.default_rng(seed)
    rows, feats = [], FeatureSet()
    for s in range(n_spk):
        for c, lab in enumerate(classes):
            for u in range(per_class):
                uid = f"S{s}_{lab}_{u}"
                mel = rng.normal(0, 0.01, (3, 4, 20)) + (1.0 if c >= 2 else 0.0) + 5 * s
                feats.audio[uid] = mel.astype(np.float32)
                feats.video[uid] = (rng.integers(0, 5, (4, 16, 16, 3)) + (150 if c % 2 else 50)).astype(np.uint8)
                rows.append({"id": uid, "speaker": f"S{s}", "label": lab})
    table = pd.DataFrame(rows)
    spk = lambda ss: tuple(sorted(table.loc[table["speaker"].isin(ss), "id"]))  # noqa: E731
    folds = [Fold(1, spk(["S0", "S1", "S2"]), spk(["S3"]), spk(["S4", "S5"]), ("S0", "S1", "S2"), ("S3",),
                  ("S4", "S5")),
             Fold(2, spk(["S2", "S3", "S4"]), spk(["S5"]), spk(["S0", "S1"]), ("S2", "S3", "S4"), ("S5",),
                  ("S0", "S1"))]
    return table, folds, feats


def test_the_probe_finds_a_linear_answer_and_never_sees_a_test_label():
    table, folds, feats = _corpus()
    pred, tried = references.probe_predictions(table, folds, feats)
    ua = metrics.per_fold(pred).groupby("model")["UA"].mean()
    assert ua["probe: both"] == 1.0
    # each alone: the two pairs told apart, within a pair a guess
    assert 0.3 < ua["probe: audio"] < 0.7 and 0.3 < ua["probe: video"] < 0.7
    for f in folds:  # each fold predicts its test utterances, once per probe
        got = pred[(pred["fold"] == f.number) & (pred["model"] == "probe: audio")]
        assert sorted(got["id"]) == sorted(f.test)
    probs = pred[[c for c in pred if c.startswith("p_")]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-9)
    # every C tried on every fold's validation speakers, one chosen per probe and fold
    assert len(tried) == 3 * 2 * len(references.PROBE_CS)
    assert tried.groupby(["model", "fold"])["chosen"].sum().eq(1).all()

    # no fit ever holds a test utterance: with one fold's test labels scrambled, that fold's predictions do not move
    rng = np.random.default_rng(1)
    for f in folds:
        mask = table["id"].isin(f.test)
        scrambled = table.assign(label=np.where(mask, rng.permutation(table["label"].to_numpy()), table["label"]))
        assert (scrambled["label"] != table["label"]).any()
        again, _ = references.probe_predictions(scrambled, [f], feats)
        mine = pred[pred["fold"] == f.number].reset_index(drop=True)
        pd.testing.assert_series_equal(again["pred"], mine["pred"])


def test_large_draw_oracle_is_an_independent_draw_scored_on_the_study_folds(tmp_path):
    from mmlib.analysis import oracle
    from mmlib.data.splits import make_folds

    cfg = load_config("quick", {"data.data_dir": str(tmp_path)})
    table, plan = oracle.plan_table(cfg)
    folds = make_folds(table, cfg.data.protocol)
    # the study's truth: the plan written where the corpus would be (no media needed for the oracle)
    path = oracle.truth_file(cfg)
    path.parent.mkdir(parents=True)
    plan.to_csv(path, index=False)
    pred = references.large_draw_predictions(cfg, table, folds, sessions=20)
    draw_table, _ = oracle.plan_table(cfg.with_overrides({"synth.seed": cfg.synth.seed + references.DRAW_SEED_OFFSET,
                                                          "synth.n_sessions": 20}))
    assert len(draw_table) > 3 * len(table)  # 20 sessions of the draw against 5 of the study
    assert set(pred["model"]) == set(references.LARGE.values())
    assert sorted(pred[pred["model"] == "oracle (large draw): both"]["id"]) == sorted(i for f in folds for i in f.test)
    ua = metrics.per_fold(pred).groupby("model")["UA"].mean()
    print(ua.round(3).to_dict())
    assert ua["oracle (large draw): both"] > 0.75
    assert ua["oracle (large draw): both"] > ua["oracle (large draw): arousal only"] + 0.1
    real = cfg.with_overrides({"data.root": str(tmp_path), "data.dataset": "ravdess"})
    assert references.large_draw_predictions(real, table, folds).empty


def test_table_sets_each_model_beside_the_references_of_its_inputs():
    def summary(scores):
        return pd.DataFrame({"model": list(scores), "UA_mean": list(scores.values()),
                             "UA_lo": [v - 0.05 for v in scores.values()],
                             "UA_hi": [v + 0.05 for v in scores.values()]})

    models = summary({"audio": 0.5, "video": 0.4, "matchmap[train.freeze=audio]": 0.6})
    refs = summary({"oracle (large draw): both": 0.9, "oracle (large draw): arousal only": 0.7,
                    "oracle (large draw): valence only": 0.65, "probe: audio": 0.55, "probe: video": 0.45,
                    "probe: both": 0.75})
    ceilings = summary({"oracle: both": 0.85, "oracle: arousal only": 0.66, "oracle: valence only": 0.64})
    got = references.table(models, refs, ceilings).set_index("model")
    assert got.loc["audio", ["oracle", "oracle_large_draw", "probe"]].tolist() == [0.66, 0.7, 0.55]
    assert got.loc["video", ["oracle", "oracle_large_draw", "probe"]].tolist() == [0.64, 0.65, 0.45]
    row = got.loc["matchmap[train.freeze=audio]"]
    assert (row["oracle"], row["oracle_large_draw"], row["probe"]) == (0.85, 0.9, 0.75)
    assert row["below_large_draw"] == pytest.approx(0.3) and row["above_probe"] == pytest.approx(-0.15)
    # without the study's oracle (a real corpus) the column is empty, the probe still there
    real = references.table(models, refs[refs["model"].str.startswith("probe")])
    assert real["oracle"].isna().all() and real["probe"].tolist() == [0.55, 0.45, 0.75]


def test_table_sets_the_human_raters_of_its_inputs_beside_each_model():
    models = pd.DataFrame({"model": ["audio", "video", "concat"], "UA_mean": [0.5, 0.6, 0.7], "UA_lo": 0.0,
                           "UA_hi": 1.0})
    refs = pd.DataFrame({"model": ["probe: audio", "probe: video", "probe: both"], "UA_mean": [0.4, 0.5, 0.6]})
    cremad = pd.DataFrame({"fold": ["all"] * 4 + [1], "modality": ["voice", "face", "audio-visual", "voice", "voice"],
                           "rule": ["strict", "strict", "strict", "lenient", "strict"],
                           "UA": [0.41, 0.58, 0.64, 0.5, 0.1]})
    got = references.table(models, refs, human=cremad)
    assert got["human"].tolist() == [0.41, 0.58, 0.64]
    iemocap = pd.DataFrame({"fold": ["all"], "modality": ["audio-visual"], "rule": ["strict"], "UA": [0.7]})
    assert references.table(models, refs, human=iemocap)["human"].tolist() == [0.7, 0.7, 0.7]
