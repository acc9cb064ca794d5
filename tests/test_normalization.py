"""Speaker normalization reads every recording of a speaker, whatever its label: no label chooses which
recordings enter a speaker's statistics."""

import numpy as np
import pandas as pd

from mmlib.data import inputs
from mmlib.data.dataset import Normalizer, SpeakerNormalizer
from mmlib.data.features import FeatureSet
from mmlib.training.checkpoints import ModelSpec


def recordings(labels):
    ids = [f"u{i}" for i in range(6)]
    return pd.DataFrame({"id": ids, "speaker": ["A", "A", "A", "B", "B", "B"], "label": labels})


def feats():
    rng = np.random.default_rng(0)
    return FeatureSet(audio={f"u{i}": rng.normal(i, 1 + i, (3, 4, 7)).astype(np.float32) for i in range(6)},
                      video={f"u{i}": rng.integers(0, 255, (2, 4, 4, 3), dtype=np.uint8) for i in range(6)})


def test_statistics_do_not_change_when_unlabelled_rows_are_relabelled():
    f = feats()
    before = SpeakerNormalizer(recordings(["neu", None, "hap", "sad", None, None]), f)
    after = SpeakerNormalizer(recordings(["neu", "ang", "hap", "sad", "hap", "neu"]), f)
    for spk in ("A", "B"):
        assert np.array_equal(before.audio_stats[spk].mean, after.audio_stats[spk].mean)
        assert np.array_equal(before.audio_stats[spk].std, after.audio_stats[spk].std)
        assert np.array_equal(before.video_stats[spk][0], after.video_stats[spk][0])
        assert before.video_stats[spk][1] == after.video_stats[spk][1]
    # and they are the statistics of all three recordings of the speaker, the unlabelled one included
    expected = Normalizer.fit([f.audio[u] for u in ("u0", "u1", "u2")])
    assert np.allclose(before.audio_stats["A"].mean, expected.mean)


def test_the_session_normalizes_with_every_recording(quick_session):
    s = quick_session
    unlabelled = s.recordings[s.recordings["label"].isna()]
    assert len(unlabelled) > 0 and set(unlabelled["id"]) <= set(s.feats.audio)  # features of unlabelled rows too
    spec = ModelSpec(s.cfg, "audio", s.folds[0], 42)
    norm = inputs.normalizer(spec, s.recordings, s.feats)
    spk = unlabelled["speaker"].iloc[0]
    ids = s.recordings.loc[s.recordings["speaker"] == spk, "id"]
    assert np.allclose(norm.audio_stats[spk].mean, Normalizer.fit([s.feats.audio[u] for u in ids]).mean)
