"""mmlib.data.synthetic: IEMOCAP's exact layout, reproducible bytes, and the cues the study relies on.

One quick corpus is generated per module (parallel), a second one serially and a third with another
seed; everything else reads those.
"""

import dataclasses
import hashlib
import re
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mmlib.data.synthetic import (
    FACE_BOX,
    SYNTH_PROFILES,
    SynthConfig,
    code_counts,
    generate_corpus,
    plan_corpus,
)
from tests.iemocap_trees import UTT, dialog_frames, speaker_z, utterance_wav

QUICK = SYNTH_PROFILES["quick"]
DIALOG = re.compile(r"^Ses0[1-5][FM]_(impro\d{2}|script\d{2}_\d)$")
HEADER = re.compile(r"^\[(\d+\.\d{4}) - (\d+\.\d{4})\]\t(\S+)\t([a-z]{3})\t\[(\d\.\d{4}), (\d\.\d{4}), (\d\.\d{4})\]$")
ANNOTATOR = re.compile(r"^(C-[EFM]\d:\t([A-Z][a-z]+; )*[A-Z][a-z]+;|A-[EFM]\d:\tval \d; act \d; dom  \d;)\t\([a-z ]*\)$")
TRANSCRIPT = re.compile(r"^(\S+) \[(\d{3}\.\d{4})-(\d{3}\.\d{4})\]: [A-Z][a-z ]*[.?]$")
IEMOCAP_4 = {"neu": 1708, "hap": 1636, "ang": 1103, "sad": 1084}


def _digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "quick"
    root = generate_corpus(out, QUICK, progress=False)
    return out, root, pd.read_csv(out / "truth.csv")


def test_tree_has_iemocaps_folders_and_names(corpus):
    out, root, truth = corpus
    assert root == out / "IEMOCAP_full_release" and (out / "truth.csv").is_file()
    assert sorted(p.name for p in root.iterdir()) == [f"Session{i}" for i in range(1, 6)]
    speakers = set()
    for s in range(1, 6):
        d = root / f"Session{s}" / "dialog"
        assert sorted(p.name for p in d.iterdir()) == ["EmoEvaluation", "avi", "transcriptions", "wav"]
        ev = d / "EmoEvaluation"
        for sub in ("Categorical", "Attribute", "Self-evaluation"):
            assert any((ev / sub).iterdir())
        assert list(ev.glob("._*.txt")), "macOS debris expected, as in the real release"
        dialogs = sorted(p.stem for p in ev.glob("*.txt") if not p.name.startswith("._"))
        assert dialogs and all(DIALOG.match(x) and x.startswith(f"Ses0{s}") for x in dialogs)
        assert {x[5] for x in dialogs} == {"F", "M"}  # markers alternate between the actors
        for x in dialogs:
            for p in (d / "avi/DivX" / f"{x}.avi", d / "transcriptions" / f"{x}.txt", d / "wav" / f"{x}.wav"):
                assert p.is_file(), p
            utts = sorted(p.stem for p in (root / f"Session{s}/sentences/wav" / x).iterdir())
            assert utts and all(UTT.match(u) and u.startswith(x + "_") for u in utts)
            speakers |= {f"Ses0{s}_{u[-4]}" for u in utts}
    assert len(speakers) == 10
    assert set(truth.speaker) == speakers


def test_emoevaluation_is_iemocaps_format(corpus):
    _, root, truth = corpus
    by_id = truth.set_index("id")
    n = 0
    for txt in sorted(root.glob("Session*/dialog/EmoEvaluation/Ses*.txt")):
        lines = txt.read_text().split("\n")
        assert lines[0] == "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]" and lines[1] == ""
        blocks = "\n".join(lines[2:]).strip("\n").split("\n\n")
        last = -1.0
        for block in blocks:
            head, *notes = block.split("\n")
            m = HEADER.match(head)
            assert m, head
            start, end, utt, code = float(m[1]), float(m[2]), m[3], m[4]
            assert UTT.match(utt).group(1) == txt.stem and start > last and end > start
            last = start
            assert code == by_id.loc[utt, "code"] and abs(start - by_id.loc[utt, "start"]) < 1e-9
            assert all(1.0 <= float(m[k]) <= 5.0 for k in (5, 6, 7))
            assert len(notes) >= 4 and all(ANNOTATOR.match(x) for x in notes), notes
            if code not in ("xxx", "oth"):  # the majority of evaluators name the label
                names = [x.split("\t")[1].split(";")[0] for x in notes if x.startswith("C-E")]
                assert max(names.count(x) for x in names) >= 2
            n += 1
    assert n == len(truth)


def test_transcriptions_match_evaluations(corpus):
    _, root, truth = corpus
    rows = []
    for txt in sorted(root.glob("Session*/dialog/transcriptions/*.txt")):
        for line in txt.read_text().splitlines():
            m = TRANSCRIPT.match(line)
            assert m, line
            rows.append((m[1], float(m[2]), float(m[3])))
    got = pd.DataFrame(rows, columns=["id", "start", "end"]).set_index("id").sort_index()
    want = truth.set_index("id")[["start", "end"]].sort_index()
    assert np.allclose(got.to_numpy(), want.to_numpy(), atol=1e-9) and list(got.index) == list(want.index)


def test_utterance_wavs_are_slices_of_the_dialog(corpus):
    _, root, truth = corpus
    sr = QUICK.sample_rate
    for dialog, rows in truth.groupby("dialog"):
        whole, wsr = sf.read(root / f"Session{int(dialog[3:5])}/dialog/wav/{dialog}.wav", dtype="int16")
        assert wsr == sr and whole.ndim == 1
        for u in rows.itertuples():
            info = sf.info(utterance_wav(root, u.id))
            assert (info.samplerate, info.channels, info.subtype) == (sr, 1, "PCM_16")
            assert abs(info.frames / sr - (u.end - u.start)) <= 1 / sr
            x, _ = sf.read(utterance_wav(root, u.id), dtype="int16")
            s0 = round(u.start * sr)
            assert np.array_equal(x, whole[s0:s0 + len(x)])
            assert np.abs(x).max() > 1000  # speech, not silence


def test_video_decodes_with_opencv_and_pyav(corpus):
    _, root, truth = corpus
    S, fps = QUICK.frame_size, QUICK.fps
    for dialog, rows in truth.groupby("dialog"):
        path = root / f"Session{int(dialog[3:5])}/dialog/avi/DivX/{dialog}.avi"
        cap = cv2.VideoCapture(str(path))
        n_cv = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (2 * S, S)
        assert cap.get(cv2.CAP_PROP_FPS) == fps
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            assert stream.average_rate == fps
            declared = stream.frames  # read while open: PyAV 18.1.1 refuses a closed container's stream
            decoded = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
        assert len(decoded) == n_cv == declared
        assert decoded[0].shape == (S, 2 * S, 3)
        assert n_cv / fps >= rows.end.max()


def test_regeneration_is_byte_identical_and_seed_matters(corpus, tmp_path):
    out, _, _ = corpus
    serial = generate_corpus(tmp_path / "serial", QUICK, progress=False, workers=1).parent
    other = generate_corpus(tmp_path / "other", dataclasses.replace(QUICK, seed=1), progress=False).parent
    a, b, c = _digests(out), _digests(serial), _digests(other)
    assert a == b  # parallel == serial, run after run
    media = [k for k in a if k.endswith((".wav", ".avi"))]
    assert media and all(a[k] != c.get(k) for k in media if "/._" not in k)


def test_sampled_codes_follow_iemocaps_proportions():
    cfg = SYNTH_PROFILES["default"]
    plan = plan_corpus(cfg)
    assert plan.equals(plan_corpus(cfg))  # the plan is deterministic
    counts = plan.code.value_counts()
    merged = {k: counts.get(k, 0) for k in IEMOCAP_4}
    merged["hap"] += counts.get("exc", 0)
    total = sum(merged.values())
    for k, n in IEMOCAP_4.items():
        assert abs(merged[k] / total - n / 5531) < 0.005, k
    assert abs(counts.get("exc", 0) / merged["hap"] - 1041 / 1636) < 0.02
    assert abs(1 - total / len(plan) - cfg.other_share) < 0.01
    assert set(plan.code) - set(IEMOCAP_4) - {"exc"} <= {"xxx", "fru", "sur", "fea", "oth", "dis"}
    assert abs(plan.flipped.mean() - cfg.label_noise) < 0.04
    assert (plan.expressed[~plan.flipped] == plan.code[~plan.flipped]).all()
    # annotated VAD follow the expression (1-5 scale), not the possibly-flipped label
    assert np.corrcoef(plan.ann_valence, plan.expr_valence)[0, 1] > 0.8
    assert np.corrcoef(plan.ann_arousal, plan.expr_arousal)[0, 1] > 0.8
    assert sum(code_counts(cfg, 1000).values()) == 1000


def _mouth_and_rms(root, truth):
    """Per speaking frame: dark pixels in the speaker's mouth region, and the audio RMS of that frame."""
    S, fps, sr = QUICK.frame_size, QUICK.fps, QUICK.sample_rate
    x0, y0, x1, y1 = (f * S for f in FACE_BOX)
    rows = slice(int(y0 + 0.62 * (y1 - y0)), int(y0 + 0.97 * (y1 - y0)))
    cols = slice(int(x0 + 0.25 * (x1 - x0)), int(x0 + 0.75 * (x1 - x0)))
    dark, rms = [], []
    for dialog, utts in truth.groupby("dialog"):
        gray = dialog_frames(root, dialog).mean(-1)
        for u in utts.itertuples():
            half = gray[:, :, :S] if u.video_side == "left" else gray[:, :, S:]
            x, _ = sf.read(utterance_wav(root, u.id))
            ks = np.arange(int(np.ceil(u.start * fps)), int(u.end * fps))
            edges = np.round(np.r_[ks, ks[-1] + 1] * sr / fps - u.start * sr).astype(int).clip(0, len(x))
            r = np.array([np.sqrt(np.mean(x[a:b] ** 2)) for a, b in zip(edges[:-1], edges[1:])])
            d = (half[ks][:, rows, cols] < 70).sum((1, 2)).astype(float)
            # within an utterance: loudness differs between utterances (arousal), mouth size does not
            dark.append((d - d.mean()) / (d.std() + 1e-9))
            rms.append((r - r.mean()) / (r.std() + 1e-9))
    return np.concatenate(dark), np.concatenate(rms)


def test_speaker_mouth_follows_the_audio_envelope(corpus):
    _, root, truth = corpus
    dark, rms = _mouth_and_rms(root, truth)
    assert np.corrcoef(dark, rms)[0, 1] > 0.5


def test_audio_carries_arousal_and_video_carries_valence(corpus):
    """Hand-made statistics: loudness (audio) and mouth curvature (video) against the expressed emotion."""
    _, root, truth = corpus
    S, fps = QUICK.frame_size, QUICK.fps
    x0, y0, x1, y1 = (round(f * S) for f in FACE_BOX)
    loud, curv = [], []
    for dialog, utts in truth.groupby("dialog", sort=False):
        gray = dialog_frames(root, dialog).mean(-1)
        for u in utts.itertuples():
            x, _ = sf.read(utterance_wav(root, u.id))
            frame_rms = np.sqrt(np.mean(x[: len(x) // 160 * 160].reshape(-1, 160) ** 2, axis=1))
            loud.append(np.log(frame_rms[frame_rms > np.median(frame_rms)].mean()))
            off = 0 if u.video_side == "left" else S
            face = gray[int(u.start * fps): int(np.ceil(u.end * fps)), y0:y1, off + x0: off + x1]
            h, w = face.shape[1:]
            mouth = face[:, int(0.6 * h): int(0.97 * h), int(0.2 * w): int(0.8 * w)].mean(0)
            dark = np.clip(np.median(mouth) - mouth - 10, 0, None)  # lips and mouth, darker than skin
            col = dark.sum(0)
            cen = (dark * np.arange(len(dark))[:, None]).sum(0) / np.maximum(col, 1e-6)
            ok = col > 0.25 * col.max()
            curv.append(np.polyfit(np.linspace(-1, 1, len(col))[ok], cen[ok], 2)[0])  # > 0: corners up
    order = truth  # rows are stored dialog by dialog, the groupby order above
    loud, curv = speaker_z(np.array(loud), order.speaker), speaker_z(np.array(curv), order.speaker)
    r = lambda a, b: abs(np.corrcoef(a, b)[0, 1])  # noqa: E731
    v, a = order.expr_valence.to_numpy(), order.expr_arousal.to_numpy()
    assert r(loud, a) > 0.8 and r(curv, v) > 0.6
    assert r(loud, a) - r(loud, v) > 0.3 and r(curv, v) - r(curv, a) > 0.3


def test_degradation_knobs_change_only_the_media(tmp_path):
    small = dataclasses.replace(QUICK, n_sessions=1, script_per_session=0, turns=(4, 4), hidden_files=False)
    worse = dataclasses.replace(small, audio_snr_db=5.0, video_occlusion=0.3, video_blur_sigma=1.0)
    clean = generate_corpus(tmp_path / "clean", small, progress=False, workers=1)
    noisy = generate_corpus(tmp_path / "noisy", worse, progress=False, workers=1)
    assert (clean.parent / "truth.csv").read_bytes() == (noisy.parent / "truth.csv").read_bytes()
    ev = "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    assert (clean / ev).read_bytes() == (noisy / ev).read_bytes()
    a, _ = sf.read(clean / "Session1/dialog/wav/Ses01F_impro01.wav")
    b, _ = sf.read(noisy / "Session1/dialog/wav/Ses01F_impro01.wav")
    truth = pd.read_csv(clean.parent / "truth.csv")
    speech = np.concatenate([a[round(s * 16000): round(e * 16000)] for s, e in zip(truth.start, truth.end)])
    assert abs(10 * np.log10(np.mean(speech**2) / np.mean((b - a) ** 2)) - 5.0) < 1.0
    fa, fb = dialog_frames(clean, "Ses01F_impro01"), dialog_frames(noisy, "Ses01F_impro01")
    S = small.frame_size
    mouth = (slice(int(0.62 * S), int(0.75 * S)), slice(int(0.45 * S), int(0.55 * S)))
    assert fa[:, mouth[0], mouth[1]].std() > 10 and fb[:, mouth[0], mouth[1]].std() < 5  # mouth hidden


def test_existing_corpus_is_reused_and_foreign_folders_are_kept(tmp_path):
    small = dataclasses.replace(QUICK, n_sessions=1, impro_per_session=1, script_per_session=0, turns=(2, 2))
    root = generate_corpus(tmp_path / "c", small, progress=False)
    stamp = (root / "Session1/dialog/wav/Ses01F_impro01.wav").stat().st_mtime_ns
    assert generate_corpus(tmp_path / "c", small, progress=False) == root
    assert (root / "Session1/dialog/wav/Ses01F_impro01.wav").stat().st_mtime_ns == stamp
    generate_corpus(tmp_path / "c", dataclasses.replace(small, seed=5), progress=False)  # ours: replaced
    assert "seed\": 5" in (tmp_path / "c" / "synth_config.json").read_text()
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate_corpus(tmp_path / "foreign", small, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "foreign"]  # no temporary leftovers


def test_bad_config_is_an_error():
    with pytest.raises(ValueError):
        SynthConfig(frame_size=50)
    with pytest.raises(ValueError):
        SynthConfig(class_counts=(1, 2, 3))
    assert SynthConfig(turns=[3, 4]).turns == (3, 4)  # lists (JSON, overrides) become tuples


def test_the_loader_reads_the_tree(corpus):
    iemocap = pytest.importorskip("mmlib.data.iemocap")
    _, root, truth = corpus
    table = iemocap.load_corpus(root, label_set="4class")
    assert len(table) == len(truth) and set(table.id) == set(truth.id)
    assert table.session.nunique() == 5 and table.speaker.nunique() == 10
    assert set(table.label.dropna()) == {"neu", "hap", "ang", "sad"}
    merged = truth.set_index("id").code.replace({"exc": "hap"})
    labelled = table.dropna(subset=["label"]).set_index("id")
    assert (labelled.label == merged.loc[labelled.index]).all()
    side = truth.set_index("id").video_side
    assert (table.set_index("id").video_side == side.loc[table.id].to_numpy()).all()
    assert all(Path(p).is_file() for p in table.audio_path) and all(Path(p).is_file() for p in table.video_path)
