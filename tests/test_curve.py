"""mmlib.runner.curve: the learning curve over corpus size, scored on validation speakers only."""

import json

import numpy as np
import pandas as pd
import pytest

from mmlib.analysis import metrics, oracle
from mmlib.config.provenance import REPO
from mmlib.runner import curve, recipe

RECORD = REPO / "results" / "curve-default"


def test_size_overrides_split_dialogs_between_improvised_and_scripted():
    assert curve.size_overrides(6) == {"synth.impro_per_session": 3, "synth.script_per_session": 3}
    assert curve.size_overrides(7) == {"synth.impro_per_session": 4, "synth.script_per_session": 3}
    with pytest.raises(ValueError, match="at least 2 dialogs"):
        curve.size_overrides(1)


def test_validation_folds_score_the_validation_speakers_and_fit_on_training_only(quick_session):
    for f, v in zip(quick_session.folds, curve.validation_folds(quick_session.folds)):
        assert v.test == f.val and v.test_speakers == f.val_speakers and v.train == f.train
        assert v.val == () and v.val_speakers == ()
        assert not set(v.test) & set(f.test)  # no test utterance is scored


def test_summary_means_fold_means_and_sd_over_seeds():
    rows = [{"dialogs_per_session": 6, "labelled_per_speaker": 50.0, "kind": "model", "model": "audio",
             "fold": fold, "seed": seed, "UA": ua}
            for (fold, seed), ua in {(1, 42): 0.4, (1, 43): 0.6, (2, 42): 0.6, (2, 43): 1.0}.items()]
    s = curve.summarize(pd.DataFrame(rows)).iloc[0]
    assert s["UA"] == pytest.approx(0.65)  # fold means 0.5 and 0.8
    assert s["sd_folds"] == pytest.approx(np.std([0.5, 0.8], ddof=1))
    assert s["sd_seeds"] == pytest.approx(np.std([0.5, 0.8], ddof=1))  # seed means 0.5 (42) and 0.8 (43)
    assert (s["folds"], s["seeds"]) == (2, 2)


@pytest.mark.slow
def test_curve_on_two_quick_sizes(tmp_path):
    over = {"run.executor": "sequential", "train.max_epochs": 1}
    record = curve.measure("quick", dialogs=(2, 4), data_dir=str(tmp_path / "data"), results_dir=tmp_path / "res",
                           overrides=over, heads=("audio", "concat"), progress=False)
    sizes = record["sizes"].set_index("dialogs_per_session")
    ratio = sizes.loc[4, "labelled_per_speaker"] / sizes.loc[2, "labelled_per_speaker"]
    assert 1.5 < ratio < 2.5  # twice the dialogs, about twice the labelled utterances per speaker
    assert sizes.loc[4, "draw_sessions"] == sizes.loc[2, "draw_sessions"] // 2
    scores = record["scores"]
    models = set(scores["model"])
    assert {"audio", "concat", "probe: audio", "probe: both", "oracle: both",
            "oracle (large draw): both"} <= models
    assert scores["UA"].between(0, 1).all()

    # the models' scores are their checkpoints' validation UA at the kept epoch
    from mmlib.runner.session import open_session

    s = open_session("quick", data_dir=str(tmp_path / "data"), results_dir=str(tmp_path / "res"),
                     overrides={**over, **curve.size_overrides(4)}, progress=False)
    fold = s.folds[0]
    seed = s.cfg.seeds[0]
    got = scores[(scores["dialogs_per_session"] == 4) & (scores["model"] == "audio") & (scores["fold"] == fold.number)
                 & (scores["seed"] == seed)]["UA"].item()
    assert got == pytest.approx(recipe.validation_scores(s.checkpoint(s.spec("audio", fold, seed)))["val_ua"])

    # the oracle is fitted on training utterances only and scored on the validation speakers
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = oracle.cues(pd.read_csv(oracle.truth_file(s.cfg)), s.cfg.synth)
    lab = s.table.set_index("id")["label"]
    clf = HistGradientBoostingClassifier(random_state=0).fit(x.loc[list(fold.train)].to_numpy(),
                                                             lab.loc[list(fold.train)].to_numpy())
    want = metrics.scores(lab.loc[list(fold.val)], clf.predict(x.loc[list(fold.val)].to_numpy()),
                          sorted(set(lab)))["UA"]
    got = scores[(scores["dialogs_per_session"] == 4) & (scores["model"] == "oracle: both")
                 & (scores["fold"] == fold.number)]["UA"].item()
    assert got == pytest.approx(want)

    # the probe's score is its validation UA at the C it chose
    tried = record["tried"]
    chosen = tried[(tried["dialogs_per_session"] == 4) & (tried["model"] == "probe: audio") & tried["chosen"]]
    got = scores[(scores["dialogs_per_session"] == 4) & (scores["model"] == "probe: audio")]["UA"].item()
    assert got == pytest.approx(chosen["val_UA"].item())

    out = curve.write(record, tmp_path / "curve", "quick")
    for name in ("scores.csv", "summary.csv", "power.csv", "probe_settings.csv", "sizes.csv", "about.json",
                 "curve.png"):
        assert (out / name).exists()
    about = json.loads((out / "about.json").read_text())
    assert "no test utterance" in about["data"] and set(about["made_by"]) == {"commit", "dirty"}


@pytest.mark.skipif(not RECORD.exists(), reason="no committed learning curve")
def test_committed_curve_summary_is_its_scores():
    scores = pd.read_csv(RECORD / "scores.csv")
    summary = pd.read_csv(RECORD / "summary.csv")
    fresh = curve.summarize(scores)
    pd.testing.assert_frame_equal(fresh.reset_index(drop=True), summary, check_dtype=False, atol=1e-9)
    sizes = pd.read_csv(RECORD / "sizes.csv")
    assert sizes["labelled_per_speaker"].max() >= 400 and len(sizes) >= 4
    models = summary[summary["kind"] == "model"]
    assert set(models["model"]) == set(curve.HEADS) and (models["seeds"] >= 3).all()
    pd.testing.assert_frame_equal(curve.contrast_power(scores), pd.read_csv(RECORD / "power.csv"),
                                  check_dtype=False, atol=1e-9)


def test_report_lines_state_the_record(tmp_path):
    rows = [{"dialogs_per_session": d, "labelled_per_speaker": n, "kind": kind, "model": model, "fold": fold,
             "seed": 42, "UA": ua + 0.1 * (d == 12)}
            for d, n in ((6, 50.0), (12, 100.0)) for fold in (1, 2)
            for kind, model, ua in (("model", "audio", 0.4), ("reference", "probe: audio", 0.5),
                                    ("reference", "oracle (large draw): arousal only", 0.7))]
    curve.summarize(pd.DataFrame(rows)).to_csv(tmp_path / "summary.csv", index=False)
    pd.DataFrame({"dialogs_per_session": [6, 12], "folds": [2, 2], "seeds": ["42", "42"]}).to_csv(
        tmp_path / "sizes.csv", index=False)
    text = "\n".join(curve.report_lines(tmp_path))
    assert "| audio | 40.0 | 50.0 |" in text and "2 folds" in text
    assert "From 50 to 100 labelled utterances per speaker: audio 40.0 -> 50.0 (probe 60.0, large-draw oracle 80.0)" \
        in text


def test_contrast_power_uses_fold_means_of_the_paired_difference():
    from mmlib.analysis import power

    diffs = {(1, 42): 0.02, (1, 43): 0.04, (2, 42): -0.01, (2, 43): 0.01, (3, 42): 0.05, (3, 43): 0.07}
    rows = []
    for (fold, seed), d in diffs.items():
        base = {"dialogs_per_session": 6, "labelled_per_speaker": 50.0, "kind": "model", "fold": fold, "seed": seed}
        rows += [{**base, "model": "concat", "UA": 0.6}, {**base, "model": "matchmap", "UA": 0.6 + d}]
    r = curve.contrast_power(pd.DataFrame(rows)).iloc[0]
    assert r["mean"] == pytest.approx(0.03) and r["folds"] == 3
    assert r["sd_folds"] == pytest.approx(np.std([0.03, 0.0, 0.06], ddof=1))
    assert r["mde"] == pytest.approx(power.mde([0.03, 0.0, 0.06]))
    assert curve.contrast_power(pd.DataFrame(rows).query("model == 'concat'")).empty  # no matchmap: no contrast
