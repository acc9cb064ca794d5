"""mmlib.reliability on hand-made models and tables: missing modality (inference.predict with a stream
zero-filled, on each condition a head can take), degradation of the quick session's test features,
effective robustness, the sweep."""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from mmlib import inference
from mmlib import reliability as rel
from mmlib.checkpoints import ModelSpec
from mmlib.config import load_config
from mmlib.data.splits import Fold
from mmlib.models.fusion import UNIMODAL

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


def missing_modality(model, ds, head, conditions=tuple(rel.CONDITIONS), batch_size=64):
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
    from mmlib.session import arms

    st = replace(quick_session, cfg=replace(quick_session.cfg, run=RunConfig(executor="sequential")))
    test = st.run_models(["audio"])
    rob = rel.degradation(st, arms(["audio"]), {"audio.snr_db": [None, -10]})
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


def test_reliability_sweep_opens_one_study_per_level(monkeypatch):
    from mmlib import session

    calls = []

    def fake_open(profile, data_dir, overrides, **kw):
        calls.append((profile, data_dir, overrides, kw))
        return {"level": overrides["synth.face_expressiveness"]}

    def runner(st, heads):
        return pd.DataFrame({"model": heads, "UA": [st["level"]] * len(heads)})

    monkeypatch.setattr(session, "open_session", fake_open)
    oracle_rows = pd.DataFrame({"model": ["oracle: both"], "UA": [0.9]})  # the ceilings of each sweep corpus
    monkeypatch.setattr(rel.oracle, "predictions", lambda st: oracle_rows.assign(UA=oracle_rows["UA"] * st["level"]))
    out = rel.reliability_sweep("quick", "video", [1, 0.5], ["audio", "matchmap"], "d",
                                overrides={"train.max_epochs": 3}, runner=runner, progress=False)
    assert calls == [("quick", "d", {"train.max_epochs": 3, "synth.face_expressiveness": 1.0}, {"progress": False}),
                     ("quick", "d", {"train.max_epochs": 3, "synth.face_expressiveness": 0.5}, {"progress": False})]
    assert out.to_dict("list") == {"model": ["audio", "matchmap", "oracle: both"] * 2, "UA": [1.0, 1.0, 0.9, 0.5, 0.5, 0.45],
                                   "modality": ["face"] * 6, "level": [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]}
    assert rel.knob_of("voice") == "synth.voice_expressiveness"
    with pytest.raises(ValueError, match="modality must be one of"):
        rel.knob_of("text")
