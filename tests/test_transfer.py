"""Cross-corpus transfer (mmlib.runner.transfer, `mmlib transfer`) on tiny generated CREMA-D and RAVDESS trees:
four model families trained on CREMA-D, scored on its test actors and on every RAVDESS clip of the shared emotions."""

import pandas as pd
import pytest

from mmlib.data.corpus import class_names
from mmlib.runner.cli import main
from mmlib.runner.transfer import SHARED, configs, transfer
from tests.corpora import TINY, write_cremad, write_ravdess

HEADS = ["audio", "video", "concat", "matchmap"]
# tiny models, one epoch, one fold; the literature's folds need every actor; no Ray for four one-epoch trainings
OVERRIDES = {**TINY, "video.crop": "box", "data.protocol": "actor5", "folds": [1], "run.executor": "sequential"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("transfer")
    crema = write_cremad(base / "CREMA-D", actors=range(1001, 1007), sentences=("DFA",), known_bad=False)
    rav = write_ravdess(base / "RAVDESS", actors=(1, 2), intensities=(1,))  # 8 emotions x 2 actors, calm and surprised too
    result = transfer("cremad", "ravdess", str(crema), str(rav), heads=HEADS, overrides=OVERRIDES,
                      data_dir=str(base / "data"), results_dir=str(base / "results"), progress=False,
                      workers=1)
    return base, crema, rav, result


def test_shared_labels_and_what_is_left_out(run):
    *_, result = run
    assert SHARED == class_names("cremad6") == ["neu", "hap", "sad", "ang", "fea", "dis"]
    pred = result.predictions
    assert [c for c in pred.columns if c.startswith("p_")] == [f"p_{c}" for c in SHARED]
    across = pred[pred["split"] == "transfer"]
    for head in HEADS:
        assert sorted(across.loc[across["model"] == head, "true"]) == sorted(SHARED * 2)  # 6 emotions x 2 actors
    assert result.excluded.to_dict("records") == [{"corpus": "ravdess", "label": "cal", "clips": 2},
                                                  {"corpus": "ravdess", "label": "sur", "clips": 2}]
    emotion_codes = {tid.split("-")[2] for tid in result.target_ids}  # RAVDESS: 02 calm, 08 surprised
    assert len(result.target_ids) == 12 and emotion_codes == {"01", "03", "04", "05", "06", "07"}


def test_within_and_transfer_rows(run):
    base, *_, result = run
    s = result.scores
    assert set(zip(s["model"], s["split"])) == {(h, sp) for h in HEADS for sp in ("within", "transfer")}
    assert len(s) == 8 and (s["fold"] == 1).all() and (s["seed"] == 42).all()
    assert s.groupby("split")["tested_on"].first().to_dict() == {"within": "CREMA-D", "transfer": "RAVDESS"}
    assert s.groupby("split")["n"].first().to_dict() == {"within": 12.0, "transfer": 12.0}  # 1001, 1006 x 6 | 2 x 6
    assert s[["WA", "UA"]].stack().between(0, 1).all()
    summary = result.summary
    assert summary["model"].tolist() == HEADS and (summary["runs"] == 1).all()
    assert list(summary.columns) == ["model", "within_WA", "within_UA", "transfer_WA", "transfer_UA", "UA_drop", "runs"]
    assert (summary["UA_drop"] == summary["within_UA"] - summary["transfer_UA"]).all()
    within = s[s["split"] == "within"].set_index("model")["UA"]
    assert summary.set_index("model")["within_UA"].to_dict() == within.to_dict()
    out = base / "results"
    for name in ("transfer_scores.csv", "transfer_summary.csv", "transfer_excluded.csv", "predictions/transfer.csv",
                 "figures/transfer_cremad_ravdess.png", "figures/transfer_cremad_ravdess.pdf"):
        assert (out / name).is_file(), name
    assert pd.read_csv(out / "transfer_summary.csv")["model"].tolist() == HEADS


def test_no_test_speaker_in_training(run):
    *_, result = run
    (fold,) = result.folds
    train, val, test = set(fold.train_speakers), set(fold.val_speakers), set(fold.test_speakers)
    assert test == {"1001", "1006"} and not (train & val or train & test or val & test)
    pred = result.predictions
    target_speakers = set(pred.loc[pred["split"] == "transfer", "speaker"])
    assert target_speakers == {"Actor_01", "Actor_02"} and not target_speakers & (train | val | test)
    assert set(pred.loc[pred["split"] == "within", "speaker"]) == test
    assert set(pred.loc[pred["split"] == "transfer", "id"]) == set(result.target_ids)


def test_target_features_at_the_models_sizes():
    src, tgt = configs("cremad", "ravdess", "/c", "/r", {"video.n_frames": 6}, "data")
    assert tgt.audio == src.audio and tgt.audio.max_seconds == 3.0  # RAVDESS's profile says 4.0; the model reads 3
    assert (tgt.video.n_frames, tgt.video.size) == (6, src.video.size)
    assert tgt.video.face_box == (0.3, 0.1, 0.7, 0.8) and tgt.data.label_set == "ravdess8"  # its own crop and labels
    with pytest.raises(ValueError, match="both corpora share"):
        configs("cremad", "ravdess", "/c", "/r", {"data.label_set": "4class"}, "data")
    with pytest.raises(ValueError, match="both 'cremad'"):
        configs("cremad", "cremad", "/c", "/r", None, "data")


def test_cli_reuses_the_checkpoints(run, capsys):
    base, crema, rav, result = run
    over = [x for k, v in OVERRIDES.items() for x in ("-o", f"{k}={v}")]
    main(["transfer", "--source", "cremad", "--source-root", str(crema), "--target", "ravdess", "--target-root",
          str(rav), "--heads", *HEADS, "--data-dir", str(base / "data"), "--out", str(base / "cli"), "--quiet", *over])
    printed = capsys.readouterr().out
    assert "transfer_UA" in printed and "ravdess cal (2 clips), ravdess sur (2 clips)" in printed
    again = pd.read_csv(base / "cli" / "transfer_scores.csv")
    assert again[["model", "split", "WA", "UA"]].equals(result.scores[["model", "split", "WA", "UA"]])


def test_ravdess_as_the_source_trains_without_calm_and_surprised(run, tmp_path):
    import torch

    base, crema, *_ = run
    rav = write_ravdess(tmp_path / "RAVDESS", actors=range(1, 5), intensities=(1,))  # actor3 needs four actors
    res = transfer("ravdess", "cremad", str(rav), str(crema), heads=["audio"],
                   overrides={**OVERRIDES, "data.protocol": "actor3"}, data_dir=str(base / "data"),
                   results_dir=str(tmp_path / "results"), progress=False, workers=1)
    assert res.excluded.to_dict("records") == [{"corpus": "ravdess", "label": "cal", "clips": 4},
                                               {"corpus": "ravdess", "label": "sur", "clips": 4}]
    (fold,) = res.folds
    for part in ("train", "val", "test"):  # RAVDESS ids: the third field is the emotion, 02 calm, 08 surprised
        assert not {uid.split("-")[2] for uid in fold.part(part)} & {"02", "08"}, part
    assert fold.test_speakers == ("Actor_01", "Actor_04") and len(fold.train) == 6 and len(fold.val) == 6
    pred = res.predictions
    assert sorted(pred.loc[pred["split"] == "within", "true"]) == sorted(SHARED * 2)
    assert sorted(pred.loc[pred["split"] == "transfer", "true"]) == sorted(SHARED * 6)  # every CREMA-D actor
    ckpt = (tmp_path / "results" / "checkpoints.jsonl").read_text().split('"checkpoint": "')[1].split('"')[0]
    assert torch.load(base / "data" / "checkpoints" / ckpt, weights_only=False)["classes"] == SHARED
