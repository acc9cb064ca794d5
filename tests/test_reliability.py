"""mmlib.reliability on hand-made models and tables: missing modality, effective robustness, the sweep."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from mmlib import reliability as rel

CLASSES = ["a", "b", "c"]


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
        self.ids, self.labels = ["u0", "u1", "u2"], np.array([0, 1, 2])
        spec = [(0, 1.0, 0.2), (1, 0.1, 0.9), (2, 2.0, 0.0), (2, -2.0, 0.3)]  # (utterance, audio, video)
        self.items = [{"utt_index": u, "label": int(self.labels[u]),
                       **({"audio": torch.full((3, 4, 5), a)} if "audio" in modalities else {}),
                       **({"video": torch.full((3, 2, 4, 4), v)} if "video" in modalities else {})}
                      for u, a, v in spec]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def collate(items):
    out = {"utt_index": torch.tensor([it["utt_index"] for it in items])}
    for m in ("audio", "video"):
        if m in items[0]:
            out[m] = torch.stack([it[m] for it in items])
    return out


def test_missing_modality_blanks_each_stream_and_averages_chunks():
    pred = rel.missing_modality(Toy(), ToyDataset(), collate, CLASSES, batch_size=3)  # u2's chunks split batches
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
    pred = rel.missing_modality(Toy(), ToyDataset(("audio",)), collate, CLASSES)
    assert set(pred["condition"]) == {"audio only"} and list(pred["pred"]) == ["a", "c", "c"]
    pred = rel.missing_modality(Toy(), ToyDataset(("video",)), collate, CLASSES)
    assert set(pred["condition"]) == {"video only"} and list(pred["pred"]) == ["c", "b", "c"]
    with pytest.raises(ValueError, match=r"unknown conditions \['text only'\]"):
        rel.missing_modality(Toy(), ToyDataset(), collate, CLASSES, conditions=("text only",))


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


def _sweep_table():
    rows = []
    ua = {1.0: {"audio": 0.5, "video": 0.6, "concat": 0.7, "matchmap": 0.65},
          0.0: {"audio": 0.5, "video": 0.25, "concat": 0.45, "matchmap": 0.55}}
    for level, models in ua.items():
        for fold, d in ((1, 0.0), (2, 0.04)):
            for model, u in models.items():
                rows.append({"model": model, "modality": "face", "level": level, "fold": fold, "seed": 42,
                             "UA": u + (d if model == "video" else 0.0)})
    return pd.DataFrame(rows)


def test_sweep_gain_against_the_best_unimodal_model_per_level():
    g = rel.sweep_gain(_sweep_table()).set_index(["level", "model", "fold"])
    assert len(g) == 8
    r = g.loc[(1.0, "concat", 2)]  # best at face 1.0 is video (0.62 mean vs 0.5); fold 2: video 0.64
    assert r.best == "video" and r.UA_best == pytest.approx(0.64) and r.gain == pytest.approx(0.06)
    assert r.gap == pytest.approx(0.14) and r.gap_weak == pytest.approx(0.5 - 0.64)  # face weakened: audio - video
    r = g.loc[(0.0, "matchmap", 1)]  # face 0: audio is best (0.5 vs 0.27 mean)
    assert r.best == "audio" and r.gain == pytest.approx(0.05) and r.gap == pytest.approx(0.25)
    assert g.loc[(0.0, "concat", 2)].gap == pytest.approx(0.5 - 0.29)
    s = rel.sweep_summary(rel.sweep_gain(_sweep_table())).set_index(["level", "model"])
    r = s.loc[(1.0, "concat")]  # gains 0.1 and 0.06: mean 0.08; half width t(0.975, 1) * sd / sqrt(2)
    assert r.n == 2 and r.gain == pytest.approx(0.08) and r.gap == pytest.approx(0.12)
    assert r.gap_weak == pytest.approx(-0.12) and s.loc[(0.0, "concat")].gap_weak == pytest.approx(0.23)
    assert r.hi - r.gain == pytest.approx(12.7062 * 0.02828427 / np.sqrt(2), rel=1e-4)
    with pytest.raises(ValueError, match=r"face=0.0: no per-fold rows of the unimodal model\(s\) \['video'\]"):
        rel.sweep_gain(_sweep_table()[lambda d: ~((d.level == 0.0) & (d.model == "video"))])


def test_reliability_sweep_opens_one_study_per_level(monkeypatch):
    from mmlib import experiments

    calls = []

    def fake_open(profile, data_dir, overrides, **kw):
        calls.append((profile, data_dir, overrides, kw))
        return {"level": overrides["synth.face_expressiveness"]}

    def runner(st, heads):
        return pd.DataFrame({"model": heads, "UA": [st["level"]] * len(heads)})

    monkeypatch.setattr(experiments, "open_study", fake_open)
    out = rel.reliability_sweep("quick", "video", [1, 0.5], ["audio", "matchmap"], "d",
                                overrides={"train.max_epochs": 3}, runner=runner, progress=False)
    assert calls == [("quick", "d", {"train.max_epochs": 3, "synth.face_expressiveness": 1.0}, {"progress": False}),
                     ("quick", "d", {"train.max_epochs": 3, "synth.face_expressiveness": 0.5}, {"progress": False})]
    assert out.to_dict("list") == {"model": ["audio", "matchmap"] * 2, "UA": [1.0, 1.0, 0.5, 0.5],
                                   "modality": ["face"] * 4, "level": [1.0, 1.0, 0.5, 0.5]}
    assert rel.knob_of("voice") == "synth.voice_expressiveness"
    with pytest.raises(ValueError, match="modality must be one of"):
        rel.knob_of("text")
