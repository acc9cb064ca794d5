"""mmlib.analysis.reliability on hand-made models and tables: missing modality (inference.predict with a stream
zero-filled, on each condition a head can take), degradation of the quick session's test features,
effective robustness, the sweep."""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from mmlib.analysis import reliability as rel
from mmlib.config import load_config
from mmlib.data.splits import Fold
from mmlib.models.fusion import UNIMODAL
from mmlib.runner import sweep
from mmlib.training import inference
from mmlib.training.checkpoints import ModelSpec

CLASSES = ["a", "b", "c"]


@dataclass(frozen=True)
class ToySpec(ModelSpec):
    """A model spec whose classes are the toy's three (no label set of the study has three)."""

    @property
    def classes(self) -> list[str]:
        return CLASSES


def toy_spec(head: str) -> ToySpec:
    return ToySpec(load_config("quick"), head, Fold(1, (), (), ("u0", "u1", "u2"), (), (), ("s",)), 42)


class Toy(torch.nn.Module):
    """logits = (mean audio, mean video, 0.5): class a follows the audio, b the video, c the constant."""

    def forward(self, audio, video, lengths=None):
        ref = audio if audio is not None else video
        n = ref.shape[0]
        a = audio.flatten(1).mean(1) if audio is not None else torch.zeros(n)
        v = video.flatten(1).mean(1) if video is not None else torch.zeros(n)
        return {"logits": torch.stack([a, v, torch.full((n,), 0.5)], 1)}


class ToyDataset:
    """Utterances u0, u1, u2 (labels a, b, c); u2 comes as two chunks whose logits are averaged."""

    def __init__(self, modalities=("audio", "video")):
        self.ids, self.labels, self.speakers = ["u0", "u1", "u2"], np.array([0, 1, 2]), ["s"] * 3
        spec = [(0, 1.0, 0.2), (1, 0.1, 0.9), (2, 2.0, 0.0), (2, -2.0, 0.3)]  # (utterance, audio, video)
        self.items = [{"id": self.ids[u], "utt_index": u, "label": int(self.labels[u]), "vad": torch.zeros(3),
                       **({"audio": torch.full((3, 4, 5), a)} if "audio" in modalities else {}),
                       **({"video": torch.full((3, 2, 4, 4), v)} if "video" in modalities else {})}
                      for u, a, v in spec]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def missing_modality(model, ds, head, conditions=rel.TEST_CONDITIONS, batch_size=64):
    """What reliability.missing_modality does for one trained model: its predictions under every condition
    its head can take, the other stream zero-filled (a unimodal head sees its own stream only)."""
    spec = toy_spec(head)
    return pd.concat([inference.predict(model, ds, spec, None if head in UNIMODAL else rel.CONDITIONS[c],
                                        batch_size=batch_size).assign(condition=c)
                      for c in rel.conditions_of(head, conditions)], ignore_index=True)


def test_missing_modality_blanks_each_stream_and_averages_chunks():
    pred = missing_modality(Toy(), ToyDataset(), "concat", batch_size=3)  # u2's chunks split batches
    got = {c: list(g["pred"]) for c, g in pred.groupby("condition")}
    assert got == {"audio+video": ["a", "b", "c"], "audio only": ["a", "c", "c"], "video only": ["c", "b", "c"]}
    assert list(pred["true"]) == ["a", "b", "c"] * 3 and list(pred["id"]) == ["u0", "u1", "u2"] * 3
    # u2 with both streams: mean logits (0, 0.15, 0.5) -> softmax
    e = np.exp([0.0, 0.15, 0.5])
    row = pred[(pred["condition"] == "audio+video") & (pred["id"] == "u2")]
    np.testing.assert_allclose(row[["p_a", "p_b", "p_c"]].to_numpy()[0], e / e.sum(), rtol=1e-6)
    # video only, u0: logits (0, 0.2, 0.5)
    e = np.exp([0.0, 0.2, 0.5])
    row = pred[(pred["condition"] == "video only") & (pred["id"] == "u0")]
    np.testing.assert_allclose(row[["p_a", "p_b", "p_c"]].to_numpy()[0], e / e.sum(), rtol=1e-6)


def test_missing_modality_scores_a_unimodal_model_on_its_own_condition_only():
    pred = missing_modality(Toy(), ToyDataset(("audio",)), "audio")
    assert set(pred["condition"]) == {"audio only"} and list(pred["pred"]) == ["a", "c", "c"]
    pred = missing_modality(Toy(), ToyDataset(("video",)), "video")
    assert set(pred["condition"]) == {"video only"} and list(pred["pred"]) == ["c", "b", "c"]
    with pytest.raises(ValueError, match=r"unknown conditions \['text only'\]"):
        missing_modality(Toy(), ToyDataset(), "concat", conditions=("text only",))


def test_robustness_clean_level_reproduces_the_test_predictions_and_noise_changes_them(quick_session):
    from dataclasses import replace

    from mmlib.config import RunConfig
    from mmlib.runner.session import arms

    st = replace(quick_session, cfg=replace(quick_session.cfg, run=RunConfig(executor="sequential")))
    test = st.run_models(["audio"])
    rob = sweep.degradation(st, arms(["audio"]), {"audio.snr_db": [None, -10]})
    assert sorted(rob["level"].unique()) == ["-10", "clean"]
    probs = [c for c in test.columns if c.startswith("p_")]
    clean = rob[rob["level"] == "clean"].set_index(["id", "seed"])[probs].sort_index()
    assert np.array_equal(clean.to_numpy(), test.set_index(["id", "seed"])[probs].sort_index().to_numpy())
    noisy = rob[rob["level"] == "-10"].set_index(["id", "seed"])[probs].sort_index()
    assert noisy.index.equals(clean.index) and not np.allclose(noisy.to_numpy(), clean.to_numpy())


def _rob():
    rows = []
    ua = {  # (model, knob, level) -> UA for seed 1; seed 2 is 0.1 lower everywhere
        ("audio", "audio.snr_db", None): 0.6, ("audio", "audio.snr_db", 10.0): 0.45, ("audio", "audio.snr_db", 0.0): 0.3,
        ("video", "audio.snr_db", None): 0.5, ("video", "audio.snr_db", 10.0): 0.5, ("video", "audio.snr_db", 0.0): 0.5,
        ("matchmap", "audio.snr_db", None): 0.8, ("matchmap", "audio.snr_db", 10.0): 0.6,
        ("matchmap", "audio.snr_db", 0.0): 0.4,
        ("audio", "video.occlusion", 0.0): 0.6, ("audio", "video.occlusion", 0.5): 0.6,
        ("video", "video.occlusion", 0.0): 0.5, ("video", "video.occlusion", 0.5): 0.25,
        ("matchmap", "video.occlusion", 0.0): 0.8, ("matchmap", "video.occlusion", 0.5): 0.7,
    }
    for (model, knob, level), u in ua.items():
        for seed, d in ((1, 0.0), (2, 0.1)):
            rows.append({"model": model, "knob": knob, "level": level, "fold": 1, "seed": seed, "UA": u - d, "WA": u})
    return pd.DataFrame(rows)


def test_effective_robustness_relative_to_clean_and_gain_over_the_intact_modality():
    eff = rel.effective_robustness(_rob())
    assert len(eff) == 30
    at = lambda m, k, lv, s: eff[(eff.model == m) & (eff.knob == k) & (eff.seed == s)  # noqa: E731
                                 & (eff.level.isna() if lv is None else eff.level == lv)].iloc[0]
    r = at("matchmap", "audio.snr_db", 10.0, 1)
    assert r.UA_clean == pytest.approx(0.8) and r.relative == pytest.approx(0.6 / 0.8)
    assert r.intact == "video" and r.gain_over_intact == pytest.approx(0.1)
    r = at("matchmap", "audio.snr_db", 0.0, 2)  # seed 2: 0.3 vs clean 0.7, intact video 0.4
    assert r.relative == pytest.approx(0.3 / 0.7) and r.gain_over_intact == pytest.approx(-0.1)
    r = at("matchmap", "video.occlusion", 0.5, 1)
    assert r.intact == "audio" and r.relative == pytest.approx(0.7 / 0.8) and r.gain_over_intact == pytest.approx(0.1)
    r = at("video", "video.occlusion", 0.5, 1)
    assert r.relative == pytest.approx(0.5) and math.isnan(r.gain_over_intact)
    assert at("audio", "audio.snr_db", None, 1).relative == pytest.approx(1.0)
    with pytest.raises(ValueError, match="knob 'video.occlusion' has no clean level"):
        rel.effective_robustness(_rob()[lambda d: ~((d.knob == "video.occlusion") & (d.level == 0.0))])
    with pytest.raises(KeyError, match=r"missing \['UA'\]"):
        rel.effective_robustness(_rob().drop(columns="UA"))


def test_reliability_sweep_opens_one_corpus_per_level_and_level_1_once(monkeypatch):
    calls = []

    def fake_open(profile, data_dir, overrides, **kw):
        calls.append((profile, data_dir, overrides, kw))
        return {"level": overrides.get("synth.face_reliability", overrides.get("synth.voice_reliability", 1.0))}

    def runner(st, models):
        return pd.DataFrame({"model": list(models), "UA": [st["level"]] * len(models)})

    monkeypatch.setattr(sweep, "open_session", fake_open)
    oracle_rows = pd.DataFrame({"model": ["oracle: both"], "UA": [0.9]})  # the ceilings of each sweep corpus
    monkeypatch.setattr(sweep.oracle, "predictions", lambda st: oracle_rows.assign(UA=oracle_rows["UA"] * st["level"]))
    out = sweep.reliability_sweep("quick", ("video", "voice"), [1, 0.5], ["audio", "video"], "d",
                                  overrides={"train.max_epochs": 3}, runner=runner, contributions=False, progress=False)
    assert calls == [("quick", "d", {"train.max_epochs": 3}, {"progress": False}),  # level 1: one corpus for both
                     ("quick", "d", {"train.max_epochs": 3, "synth.face_reliability": 0.5}, {"progress": False}),
                     ("quick", "d", {"train.max_epochs": 3, "synth.voice_reliability": 0.5}, {"progress": False})]
    pred = out["predictions"]
    assert pred.groupby(["modality", "level"]).size().to_dict() == {(m, lv): 3 for m in ("face", "voice")
                                                                    for lv in (0.5, 1.0)}
    assert pred[(pred["modality"] == "face") & (pred["level"] == 0.5)]["UA"].tolist() == [0.5, 0.5, 0.45]
    assert rel.knob_of("voice") == "synth.voice_reliability"
    with pytest.raises(ValueError, match="modality must be one of"):
        rel.knob_of("text")


def test_sweep_models_puts_controls_on_every_level_and_the_diagnosis_at_face_0():
    at = sweep.sweep_models(["audio", "matchmap"], [{"train.rank_weight": 0.0}], [{"train.blank": "video"}],
                          control_modalities=("face",), seeds=[42])
    face0, face1, voice0 = at("face", 0.0), at("face", 1.0), at("voice", 0.0)
    assert list(face0) == ["audio", "matchmap", "matchmap[train.rank_weight=0.0]", "matchmap[train.blank=video]"]
    assert face0["matchmap[train.blank=video]"] == ("matchmap", {"train.blank": "video", "seeds": (42,)})
    assert list(face1) == ["audio", "matchmap", "matchmap[train.rank_weight=0.0]"]
    assert list(voice0) == ["audio", "matchmap"]  # controls only on the face sweep (and level 1)
    # the face-0 controls: a diagnosis dict may name its head and its own seeds; one naming a swept head replaces it
    at = sweep.sweep_models(["audio", "matchmap"], [], [{"head": "audio", "seeds": [42, 43, 44]},
                                                        {"head": "audio", "train.continue_unimodal": True,
                                                         "seeds": [42, 43, 44]},
                                                        {"train.freeze": "audio", "seeds": [42, 43, 44]}],
                            control_modalities=("face",), seeds=[42])
    face0 = at("face", 0.0)
    assert face0 == {"audio": ("audio", {"seeds": (42, 43, 44)}), "matchmap": ("matchmap", {"seeds": (42,)}),
                     "audio[train.continue_unimodal=True]": ("audio", {"train.continue_unimodal": True,
                                                                       "seeds": (42, 43, 44)}),
                     "matchmap[train.freeze=audio]": ("matchmap", {"train.freeze": "audio", "seeds": (42, 43, 44)})}
    assert at("face", 0.5)["audio"] == ("audio", {"seeds": (42,)})
    # claim 2's primary pair on its own seeds at every level, the rest of the sweep on the sweep's
    at = sweep.sweep_models(["audio", "concat", "matchmap"], [], [], seeds=[42],
                            head_seeds={"concat": [42, 43, 44], "matchmap": [42, 43, 44]})
    for modality, level in (("face", 0.0), ("voice", 0.5), ("face", 1.0)):
        assert at(modality, level) == {"audio": ("audio", {"seeds": (42,)}),
                                       "concat": ("concat", {"seeds": (42, 43, 44)}),
                                       "matchmap": ("matchmap", {"seeds": (42, 43, 44)})}
    with pytest.raises(ValueError, match=r"head_seeds names heads the sweep does not train: \['video'\]"):
        sweep.sweep_models(["audio"], head_seeds={"video": [42]})


def _run_predictions(scores: dict[str, float], folds=(1, 2), seeds=(42,), **cols) -> pd.DataFrame:
    """Per model and run: 2 speakers x 4 classes x 4 utterances, class recall = the model's score exactly."""
    classes = ["neu", "hap", "sad", "ang"]
    rows = []
    for model, score in scores.items():
        right = int(round(score * 4))
        for fold in folds:
            for seed in seeds:
                for spk in range(2):
                    for c, true in enumerate(classes):
                        for u in range(4):
                            p = np.full(4, 0.1)
                            guess = true if u < right else classes[(c + 1) % 4]
                            p[classes.index(guess)] = 0.7
                            rows.append({"id": f"f{fold}s{spk}{true}{u}", "fold": fold, "seed": seed, "model": model,
                                         "speaker": f"F{fold}S{spk}", "true": true, "pred": guess,
                                         **{f"p_{k}": p[i] for i, k in enumerate(classes)}, **cols})
    return pd.DataFrame(rows)


def test_shapley_values_of_two_streams_are_exact():
    cond = pd.concat([_run_predictions({"matchmap": v}).assign(condition=c) for c, v in
                      (("audio+video", 0.75), ("audio only", 0.5), ("video only", 0.25), ("neither", 0.25))],
                     ignore_index=True)
    runs, summary = rel.shapley(cond)
    assert runs["phi_audio"].tolist() == pytest.approx([0.375] * 2)  # ((.75 - .25) + (.5 - .25)) / 2
    assert runs["phi_video"].tolist() == pytest.approx([0.125] * 2)  # ((.75 - .5) + (.25 - .25)) / 2
    assert runs["video_share"].tolist() == pytest.approx([0.25] * 2)
    row = summary.iloc[0]
    assert (row["phi_audio"], row["phi_video"]) == pytest.approx((0.375, 0.125))
    assert row["UA_av"] - row["UA_none"] == pytest.approx(row["phi_audio"] + row["phi_video"])
    with pytest.raises(ValueError, match="Shapley values need the conditions"):
        rel.shapley(cond[cond["condition"] != "neither"])


def test_late_fusion_averages_the_unimodal_probabilities():
    pred = _run_predictions({"audio": 1.0, "video": 0.0}, folds=(1,))
    late = rel.late_fusion(pred)
    a, v = pred[pred["model"] == "audio"].reset_index(drop=True), pred[pred["model"] == "video"].reset_index(drop=True)
    probs = [c for c in pred.columns if c.startswith("p_")]
    assert np.allclose(late[probs].to_numpy(), (a[probs].to_numpy() + v[probs].to_numpy()) / 2)
    assert set(late["model"]) == {rel.LATE} and len(late) == len(a)
    # a tie of 0.4 / 0.4 between the audio's (right) and the video's (wrong) class: argmax takes the first column
    assert (late["pred"] == [probs[min(probs.index(f"p_{t}"), probs.index(f"p_{w}"))][2:]
                             for t, w in zip(a["pred"], v["pred"])]).all()


def test_gain_b_is_over_the_intact_modality_model_with_the_oracle_gain_over_its_cue():
    # face weakened: the intact model is audio, even where video scores higher (no pick by any score)
    scores = {"audio": 0.5, "video": 0.75, "matchmap": 1.0, "oracle: both": 1.0, "oracle: arousal only": 0.5,
              "oracle: valence only": 0.75}
    pred = pd.concat([_run_predictions(scores, modality="face", level=0.5),
                      _run_predictions(scores, modality="voice", level=0.5)], ignore_index=True)
    gains = rel.sweep_gains(pred).set_index(["modality", "model"])
    assert set(gains["model_b"]) == {"audio", "video"}
    assert gains.loc[("face", "matchmap"), ["model_b", "diff", "gap_weak", "oracle_gain", "realized"]].tolist() == \
        pytest.approx(["audio", 0.5, -0.25, 0.5, 1.0])  # oracle gain: both - arousal only (the voice's cue)
    assert gains.loc[("voice", "matchmap"), ["model_b", "diff", "gap_weak", "oracle_gain", "realized"]].tolist() == \
        pytest.approx(["video", 0.25, 0.25, 0.25, 1.0])  # both - valence only (the face's cue)
    # late fusion: where only video is right the two classes tie and the lower class index wins, so it keeps
    # video's third right answer in three classes and loses it in the last (recalls .75, .75, .75, .5)
    assert gains.loc[("face", rel.LATE), "diff"] == pytest.approx(0.6875 - 0.5)


def test_trend_is_the_least_squares_slope_of_the_difference_on_lost_expressiveness():
    levels = {0.0: (0.75, 0.25), 0.5: (0.5, 0.5), 1.0: (0.5, 0.25)}  # (matchmap, concat) scores per level
    pred = pd.concat([_run_predictions({"matchmap": m, "concat": c}, folds=(1, 2, 3), modality="face", level=lv)
                      for lv, (m, c) in levels.items()], ignore_index=True)
    r = rel.trend(pred, "face", "matchmap", "concat")
    lost = np.array([1.0, 0.5, 0.0])
    diffs = np.array([m - c for m, c in levels.values()])
    assert r["diff"] == pytest.approx(np.polyfit(lost, diffs, 1)[0])  # (0.5 - 0.25) / 1 = 0.25
    assert r["levels"] == "0, 0.5, 1" and r["interval"] == "t over folds"


def test_an_arm_identical_to_another_is_reported_once_outside_the_diagnosis_family():
    pred = _run_predictions({"audio": 0.75, "video": 0.25, "matchmap": 0.5, "matchmap[train.finetune_patience=16]": 0.5,
                             "matchmap[train.freeze=audio]": 1.0}, folds=(1, 2, 3), modality="face", level=0.0,
                            val_ua=0.5)
    same = rel.identical_arms(pred)
    assert same.to_dict("records") == [{"model": "matchmap[train.finetune_patience=16]", "identical_to": "matchmap"}]
    diag = rel.diagnosis(pred, "face", 0.0)
    assert "matchmap[train.finetune_patience=16]" not in set(diag["model"])
    rows = diag.set_index("model")
    assert rows.loc["matchmap", "diff"] == pytest.approx(-0.25) and rows.loc["matchmap[train.freeze=audio]",
                                                                              "diff"] == pytest.approx(0.25)
    # one probability apart is not identical
    moved = pred.copy()
    moved.loc[(moved["model"] == "matchmap[train.finetune_patience=16]").idxmax(), "p_neu"] += 1e-6
    assert rel.identical_arms(moved).empty
