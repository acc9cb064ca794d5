"""synth.voice_reliability / synth.face_reliability: a knob that removes a modality's information smoothly.

At level r a share r of the utterances show, in that modality, their own expression; the others show the
expression of another utterance of the same speaker (mmlib.data.synthetic.plan). Checked here: the share is
the deterministic draw and the levels are nested; the oracle given what each modality shows (its ceiling)
falls monotonically with the level, and its fusion gain with it; each knob leaves the other modality's files
byte-identical; level 1 is the corpus written before the knob existed, byte for byte (pinned digests).
"""

import dataclasses
import functools
import hashlib
import itertools

import numpy as np
import pandas as pd
import pytest

from mmlib.analysis import metrics, oracle
from mmlib.config import SYNTH_PROFILES, SynthConfig, load_config
from mmlib.data.loaders import load_table
from mmlib.data.splits import make_folds
from mmlib.data.synthetic import generate_corpus, plan_corpus
from mmlib.data.synthetic.plan import SHOWN_COLUMNS

QUICK = SYNTH_PROFILES["quick"]
LEVELS = (1.0, 0.75, 0.5, 0.25, 0.0)


def test_knob_range_is_checked():
    with pytest.raises(ValueError, match=r"synth.voice_reliability must lie in \[0, 1\] .* got -0.1"):
        SynthConfig(voice_reliability=-0.1)
    assert load_config("quick", {"synth.face_reliability": "0.5"}).synth.face_reliability == 0.5


def test_share_of_unreliable_utterances_is_the_deterministic_draw():
    full = plan_corpus(QUICK)
    assert (full["voice_from"] == full["id"]).all() and (full["face_from"] == full["id"]).all()
    assert full[["voice_valence", "voice_arousal"]].to_numpy().tolist() == \
        full[["expr_valence", "expr_arousal"]].to_numpy().tolist()
    expressed = full.set_index("id")["expressed"]
    off, other = {}, {}
    for m in ("voice", "face"):
        for r in LEVELS:
            p = plan_corpus(dataclasses.replace(QUICK, **{f"{m}_reliability": r}))
            rest = [c for c in p.columns if not c.startswith(f"{m}_")]
            pd.testing.assert_frame_equal(p[rest], full[rest])  # labels, expression, the other modality untouched
            moved = p[p[f"{m}_from"] != p["id"]]
            off[m, r] = set(moved["id"])
            other[m, r] = int((expressed.loc[moved[f"{m}_from"]].to_numpy() != moved["expressed"].to_numpy()).sum())
            donor = p.set_index("id").loc[p[f"{m}_from"]]
            assert (donor["speaker"].to_numpy() == p["speaker"].to_numpy()).all()  # a donor: same speaker
            assert (donor["expr_valence"].to_numpy() == p[f"{m}_valence"].to_numpy()).all()  # shows its expression
            assert (donor["expr_arousal"].to_numpy() == p[f"{m}_arousal"].to_numpy()).all()
    # 79 utterances; at r = 0.5 about half show another utterance's expression, most of them another emotion
    assert {m: len(off[m, 0.5]) for m in ("voice", "face")} == {"voice": 41, "face": 39}
    assert {m: other[m, 0.5] for m in ("voice", "face")} == {"voice": 35, "face": 30}
    assert [len(off["voice", r]) for r in LEVELS] == [0, 23, 41, 57, 79]
    assert [len(off["face", r]) for r in LEVELS] == [0, 15, 39, 51, 79]
    for m in ("voice", "face"):  # nested: an utterance unreliable at r stays so at every lower level
        assert all(off[m, a] <= off[m, b] for a, b in itertools.pairwise(LEVELS))
    assert off["voice", 0.5] != off["face", 0.5]  # independent draws per modality


@functools.cache
def _ceiling(cue: str, **knobs: float) -> float:
    """Mean UA over the 5 loso5 folds of the oracle given `cue`, trained from the default profile's plan at
    `knobs` (521 labelled utterances; the quick corpus's 60 are too few for a monotone curve), no media."""
    synth = dataclasses.replace(SYNTH_PROFILES["default"], **knobs)
    cfg = dataclasses.replace(load_config("default"), folds=None, synth=synth)
    table, plan = oracle.plan_table(cfg)
    pred = oracle.fit_predict(oracle.cues(plan, synth), table, make_folds(table, "loso5"),
                              cue_sets={cue: oracle.CUES[cue]})
    return float(metrics.per_fold(pred)["UA"].mean())


# measured on the default profile's plan (also in the report of issue 24): the weakened stream's own ceiling
SINGLE = {"voice": ("oracle: arousal only", [0.650, 0.566, 0.451, 0.305, 0.234]),
          "face": ("oracle: valence only", [0.663, 0.540, 0.365, 0.313, 0.302])}


@pytest.mark.parametrize("modality", ["voice", "face"])
def test_ceiling_of_the_weakened_stream_falls_monotonically(modality):
    name, want = SINGLE[modality]
    got = [_ceiling(name, **{f"{modality}_reliability": r}) for r in LEVELS]
    assert got == pytest.approx(want, abs=0.002)
    assert all(a > b + 0.005 for a, b in itertools.pairwise(got))  # strictly falling, level by level
    assert got[-1] < 0.32  # r = 0: near chance (0.25), the cue says nothing about the label


def test_oracle_fusion_gain_is_graded():
    """Face sweep: the ceiling given both cues and the oracle's own gain (both - the better single cue) fall
    with the level; expressiveness 0.5 (the old knob) leaves every ceiling where it was at 1."""
    levels = (1.0, 0.5, 0.0)
    both = [_ceiling("oracle: both", face_reliability=r) for r in levels]
    voice = _ceiling("oracle: arousal only", voice_reliability=1.0)  # the face knob leaves the voice's cue as it is
    gain = [b - max(voice, _ceiling("oracle: valence only", face_reliability=r)) for b, r in zip(both, levels)]
    assert both == pytest.approx([0.838, 0.703, 0.614], abs=0.002)
    assert gain == pytest.approx([0.174, 0.053, -0.036], abs=0.002)  # at 0 a useless cue costs HGB a little
    assert voice == pytest.approx(0.650, abs=0.002)
    # the old knob: the face at half strength, no noise, is as separable as at full strength
    assert _ceiling("oracle: valence only", face_expressiveness=0.5) == _ceiling("oracle: valence only",
                                                                                   face_reliability=1.0)


# ---------------------------------------------------------------- the corpus's files

# sha256 over "path digest" lines of the quick corpus (seed 0) as written before the reliability knobs existed
# (commit 50cad4a), per kind: utterance and dialog wavs with the '._' stubs (94), avis (10), every other file
# (56: EmoEvaluation, transcriptions, truth.csv); synth_config.json is left out (it holds the generator's hash).
TODAY = {"wav": (94, "010083076132bde1"), "avi": (10, "ed86299fccba1a11"), "other": (56, "8ba822eeab19607e")}


def _digests(out) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != "synth_config.json"}


def _kind(path: str) -> str:
    return "wav" if path.endswith(".wav") else "avi" if path.endswith(".avi") else "other"


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    base = tmp_path_factory.mktemp("reliability")
    out = {}
    for name, over in (("full", {}), ("voice.5", {"voice_reliability": 0.5}), ("face.5", {"face_reliability": 0.5})):
        generate_corpus(base / name, dataclasses.replace(QUICK, **over), progress=False)
        out[name] = (base / name, _digests(base / name))
    return out


def test_level_1_is_the_corpus_before_the_knob_byte_for_byte(corpora):
    _, d = corpora["full"]
    for kind, (n, digest) in TODAY.items():
        part = {k: v for k, v in d.items() if _kind(k) == kind}
        lines = "".join(f"{k} {v}\n" for k, v in sorted(part.items()))
        assert (len(part), hashlib.sha256(lines.encode()).hexdigest()[:16]) == (n, digest), kind
    assert not set(SHOWN_COLUMNS) & set(pd.read_csv(corpora["full"][0] / "truth.csv").columns)


def _shown(out) -> pd.DataFrame:
    return pd.read_csv(out / "truth.csv").set_index("id")


def test_face_knob_leaves_every_audio_file_byte_identical(corpora):
    (_, a), (out, b) = corpora["full"], corpora["face.5"]
    for kind in ("wav",):
        assert {k: v for k, v in a.items() if _kind(k) == kind} == {k: v for k, v in b.items() if _kind(k) == kind}
    texts = [k for k in a if "transcriptions" in k or "EmoEvaluation" in k]
    assert len(texts) == 55 and all(a[k] == b[k] for k in texts)
    truth = _shown(out)
    assert (truth["voice_from"] == truth.index).all() and (truth["face_from"] != truth.index).sum() == 39
    moved = set(truth[truth["face_from"] != truth.index]["dialog"])
    changed = {k.split("/")[-1][:-4] for k in a if k.endswith(".avi") and a[k] != b[k]}
    assert changed == moved and len(changed) == 10  # every dialog has an utterance whose face shows another's


def test_voice_knob_leaves_every_video_file_byte_identical(corpora):
    (_, a), (out, c) = corpora["full"], corpora["voice.5"]
    assert {k: v for k, v in a.items() if _kind(k) == "avi"} == {k: v for k, v in c.items() if _kind(k) == "avi"}
    truth = _shown(out)
    assert (truth["face_from"] == truth.index).all()
    moved = set(truth.index[truth["voice_from"] != truth.index])
    utt = {k.split("/")[-1][:-4]: k for k in a if "/sentences/wav/" in k}
    assert len(utt) == 79 and {u for u, k in utt.items() if a[k] != c[k]} == moved  # exactly the moved voices
    # the truth table records what each modality shows, right after the planned expression
    cols = list(pd.read_csv(out / "truth.csv").columns)
    assert cols[cols.index("expr_arousal") + 1:][:6] == list(SHOWN_COLUMNS)
    shown = truth.loc[sorted(moved), ["voice_valence", "voice_arousal"]].to_numpy()
    donor = truth.loc[truth.loc[sorted(moved), "voice_from"], ["expr_valence", "expr_arousal"]].to_numpy()
    np.testing.assert_array_equal(shown, donor)  # the donor's planned expression, as written (4 decimals)


def test_the_plans_oracle_is_the_corpus_oracle(corpora):
    """What plan_predictions trains on (labels, speakers, folds, cues) is what predictions(session) reads from
    the written corpus (the loader's table, truth.csv): the ceilings above are the corpus's."""
    out, _ = corpora["face.5"]
    cfg = dataclasses.replace(load_config("quick"), synth=dataclasses.replace(QUICK, face_reliability=0.5))
    table, plan = oracle.plan_table(cfg)
    loaded = load_table(cfg.data, out / "IEMOCAP_full_release")
    loaded = loaded[loaded["label"].notna()]
    key = ["id", "speaker", "label"]
    pd.testing.assert_frame_equal(table[key].sort_values("id").reset_index(drop=True),
                                  loaded[key].sort_values("id").reset_index(drop=True))
    from_plan, from_file = oracle.cues(plan, cfg.synth), oracle.cues(pd.read_csv(out / "truth.csv"), cfg.synth)
    pd.testing.assert_frame_equal(from_plan, from_file)
    assert (from_plan["valence"] != plan.set_index("id")["expr_valence"]).sum() > 25  # the face's shown valence
    with pytest.raises(ValueError, match="face_reliability is 0.5 but the truth table has no face_valence"):
        oracle.cues(pd.read_csv(corpora["full"][0] / "truth.csv"), cfg.synth)
    assert np.isfinite(from_plan.to_numpy()).all()
