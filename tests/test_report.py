"""The committed results are what the current source produces, and the README quotes them."""

import json
import shutil
import time

import pytest

from mmlib.config.provenance import REPO, study_source_hash
from mmlib.runner.report import (
    BEGIN,
    END,
    QUOTED_RUNS,
    bottom_line,
    render,
    update_readme,
    update_report,
    with_quoted_runs,
)

RUN = REPO / "results" / "default"
CLAIM2_RUN = QUOTED_RUNS["2"][0]
# every committed run the README quotes: the default study, and the claim-1 and claim-2 runs when committed
RUNS = [RUN] + [r for name, _ in QUOTED_RUNS.values() if ((r := REPO / "results" / name) / "manifest.json").exists()]


@pytest.mark.parametrize("run", RUNS, ids=lambda r: r.name)
def test_committed_results_come_from_the_current_source(run):
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["source_hash"] == study_source_hash(), (
        f"results/{run.name}/ was made by other sources than these (mmlib, notebooks, pyproject): "
        "rerun `make study` (or `make study-<run>`) and commit its output")
    assert not manifest["git"]["dirty"], f"results/{run.name}/ was made from uncommitted changes"
    assert len(manifest["seeds"]) >= 3


def test_readme_quotes_the_committed_results():
    assert update_readme(RUN, REPO / "README.md", check=True), "README.md's bottom line is stale: run `mmlib report`"


@pytest.mark.parametrize("run", RUNS, ids=lambda r: r.name)
def test_the_full_report_is_the_committed_runs(run):
    assert (run / "REPORT.md").exists(), f"results/{run.name}/REPORT.md is missing: run `mmlib report`"
    assert update_report(run, check=True), f"results/{run.name}/REPORT.md is stale: run `mmlib report`"


def test_claim2_rows_come_from_the_claim2_run_beside_the_default(tmp_path):
    import pandas as pd

    def copy_run(name):
        (tmp_path / name / "tables").mkdir(parents=True)
        for f in ("manifest.json", "tables/results_summary.csv", "tables/primary_tests.csv"):
            shutil.copy(RUN / f, tmp_path / name / f)

    copy_run("default")
    primary = pd.read_csv(RUN / "tables" / "primary_tests.csv", dtype={"claim": str})
    assert primary["claim"].str.startswith("2").any()
    alone = bottom_line(tmp_path / "default")  # no claim-2 run beside it: the default's own rows, no run column
    assert f"results/{CLAIM2_RUN}/" not in alone and " run |" not in alone
    copy_run(CLAIM2_RUN)
    full = primary.copy()
    is2 = full["claim"].str.startswith("2")
    full.loc[is2, "estimate"] = 0.1234
    full.loc[is2, "contrast"] = full.loc[is2, "contrast"] + " at five levels"
    full.to_csv(tmp_path / CLAIM2_RUN / "tables" / "primary_tests.csv", index=False)
    block = bottom_line(tmp_path / "default")
    for r in full.itertuples():
        source = CLAIM2_RUN if r.claim.startswith("2") else "default"  # no claim-1 run beside it here
        assert f"| {r.claim} | {r.contrast} | {100 * r.estimate:+.1f} [" in block
        assert [line for line in block.splitlines() if line.startswith(f"| {r.claim} |")][0].endswith(f" {source} |")
    assert "+12.3 [" in block and f"results/{CLAIM2_RUN}/" in block
    full[~is2].to_csv(tmp_path / CLAIM2_RUN / "tables" / "primary_tests.csv", index=False)
    assert bottom_line(tmp_path / "default") == alone  # a claim-2 run without claim-2 rows: nothing taken from it
    assert "row(s) come from" not in bottom_line(tmp_path / CLAIM2_RUN)  # a run never quotes itself


def test_bottom_line_and_report_are_generated_from_tables():
    import pandas as pd

    block = bottom_line(RUN)
    assert block.startswith(BEGIN) and block.endswith(END)
    primary, _ = with_quoted_runs(RUN, pd.read_csv(RUN / "tables" / "primary_tests.csv", dtype={"claim": str}))
    for r in primary.itertuples():  # every primary test, its estimate and verdict, as the table (or the run beside
        # it that the README quotes for that claim) holds them
        assert f"| {r.claim} | {r.contrast} | {100 * r.estimate:+.1f} [" in block and r.verdict in block
    report = render(RUN)
    assert report.startswith("# Report of the run") and "matchmap - concat" in report


def test_readme_is_a_front_door():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    first_screen = "\n".join(text.splitlines()[:60])
    for needed in ("make study", "make test", " -o ", " -p ", BEGIN):
        assert needed in first_screen, needed


def test_committed_figures_were_checked_and_have_no_layout_defects():
    # plots.save runs mmlib.figures.figcheck on every figure as the study drew it from its own tables
    checked = json.loads((RUN / "figures" / "layout_check.json").read_text())
    figures = sorted(p.stem for p in (RUN / "figures").glob("*.png"))
    assert sorted(checked) == figures
    assert {name: found for name, found in checked.items() if found} == {}


def test_a_run_is_dirty_only_when_what_made_it_has_uncommitted_changes(tmp_path):
    import subprocess

    from mmlib.runner.study import git_state

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "mmlib").mkdir()
    (tmp_path / "mmlib" / "x.py").write_text("A = 1\n")
    (tmp_path / "README.md").write_text("docs\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "README.md").write_text("docs, edited\n")  # docs and benchmarks do not shape a run
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "mmlib" / "x.py").write_text("A = 2\n")
    assert git_state(tmp_path)["dirty"] is True


def test_made_in_says_how_many_models_the_run_trained():
    from mmlib.runner.report import _made_in

    m = {"wall_seconds": {"total": 120.0}, "machine": {"cpus": 2, "cpu_model": "X"},
         "checkpoints": [{"trained": True}, {"trained": False}, {"trained": False}]}
    assert _made_in(m) == ("in 2.0 min on 2 cores (X), training 1 of its 3 models and reusing the checkpoints of "
                           "the other 2 (same model keys, same training code)")
    m["checkpoints"] = [{"trained": False}] * 3
    assert "reusing the checkpoints of all its 3 models" in _made_in(m)
    m["checkpoints"] = [{"trained": True}] * 3
    assert _made_in(m) == "in 2.0 min on 2 cores (X)"
    m["machine"]["load"] = {"mean_load_1min": 2.9}  # its own two workers and the notebook: alone
    assert _made_in(m) == "in 2.0 min on 2 cores (X)"
    m["machine"]["load"] = {"mean_load_1min": 4.2}  # another study beside it
    assert _made_in(m) == ("in 2.0 min on 2 cores (X) while other work shared the cores (mean load 4.2 on 2 cores: "
                           "slower than the run alone, so not a measure of its cost)")


def test_the_load_sampler_averages_the_one_minute_load(tmp_path):
    from mmlib.runner.study import LoadSampler

    src = tmp_path / "loadavg"
    src.write_text("3.50 2.00 1.00 3/200 12345\n")
    sampler = LoadSampler(every=0.01, source=src).start()
    time.sleep(0.05)
    src.write_text("1.50 2.00 1.00 3/200 12345\n")
    time.sleep(0.05)
    out = sampler.stop()
    assert out["samples"] >= 2 and out["max_load_1min"] == 3.5
    assert 1.5 < out["mean_load_1min"] < 3.5
    assert LoadSampler(source=tmp_path / "absent").start().stop() == {
        "mean_load_1min": None, "max_load_1min": None, "samples": 0}


def test_a_row_outside_its_family_says_so_instead_of_a_holm_p():
    from types import SimpleNamespace

    from mmlib.runner.report import comparison_sentence

    r = SimpleNamespace(model_a="matchmap (audio only)", model_b="audio", diff=-0.137, diff_lo=-0.208,
                        diff_hi=-0.067, runs=15, folds=5, p_t=0.0004, p_holm=0.01, p_signflip=0.0625,
                        p_signflip_min=0.0625, verdict="shown: matchmap (audio only) < audio")
    assert comparison_sentence(r) == (
        "matchmap (audio only) - audio: -13.7 UA points [-20.8, -6.7] over 5 folds x 3 seed(s) (fold-level t-test "
        "p = < 0.001, Holm-adjusted 0.010; exact sign-flip p = 0.062, its floor 0.062): "
        "**shown: matchmap (audio only) < audio**")
    r.p_holm = float("nan")
    assert "(fold-level t-test p = < 0.001, outside the Holm family; exact sign-flip" in comparison_sentence(r)


def test_a_quoted_run_on_another_corpus_gets_its_own_scores_and_targets(tmp_path):
    claim1 = QUOTED_RUNS["1"][0]
    for name in ("default", claim1):
        shutil.copytree(RUN / "tables", tmp_path / name / "tables")
        shutil.copy(RUN / "manifest.json", tmp_path / name / "manifest.json")
    same = bottom_line(tmp_path / "default")  # the same corpus: the same models, nothing more to say
    assert f"On the corpus of `{claim1}`" not in same and same.count("Targets met:") == 1
    m = json.loads((tmp_path / claim1 / "manifest.json").read_text())
    m["corpus"]["files_hash"] = "another corpus"
    (tmp_path / claim1 / "manifest.json").write_text(json.dumps(m))
    block = bottom_line(tmp_path / "default")
    assert f"On the corpus of `{claim1}`, UA of each model (%)" in block and block.count("Targets met:") == 2
    assert f"[results/{claim1}/REPORT.md](results/{claim1}/REPORT.md)" in block


def _manifest(folder, dialogs, profile="default"):
    folder.mkdir(parents=True, exist_ok=True)
    synth = {"impro_per_session": dialogs // 2, "script_per_session": dialogs - dialogs // 2}
    (folder / "manifest.json").write_text(json.dumps({"profile": profile, "corpus": {"kind": "synthetic"},
                                                      "config": {"synth": synth}}))


def test_corpus_words_place_a_larger_corpus_against_the_learning_curve(tmp_path):
    import pandas as pd

    from mmlib.runner.curve import summarize
    from mmlib.runner.report import corpus_words

    _manifest(tmp_path / "default", 6)
    _manifest(tmp_path / "claim1", 24)
    _manifest(tmp_path / "same", 6)
    assert corpus_words(tmp_path / "same", tmp_path / "default") == ""
    assert corpus_words(tmp_path / "claim1", tmp_path / "default") == " of 24 dialogs per session (4x `default`'s)"
    curve_dir = tmp_path / "curve-default"
    curve_dir.mkdir()
    # audio under its probe at 24 dialogs (100 per speaker), above it and within 5 points of its ceiling at 48
    ua = {24: {"audio": 0.50, "probe: audio": 0.55, "oracle (large draw): arousal only": 0.70},
          48: {"audio": 0.66, "probe: audio": 0.60, "oracle (large draw): arousal only": 0.70}}
    per = {24: 100.0, 48: 200.0}
    rows = [{"dialogs_per_session": d, "labelled_per_speaker": per[d], "kind": "model", "model": model, "fold": fold,
             "seed": 42, "UA": v} for d in ua for model, v in ua[d].items() for fold in (1, 2)]
    summarize(pd.DataFrame(rows)).to_csv(curve_dir / "summary.csv", index=False)
    pd.DataFrame({"dialogs_per_session": [24, 48], "labelled_per_speaker": [100.0, 200.0]}).to_csv(
        curve_dir / "sizes.csv", index=False)
    power = pd.DataFrame({"labelled_per_speaker": [100.0, 200.0], "mde": [0.06, 0.03]})
    power.to_csv(curve_dir / "power.csv", index=False)
    head = " of 24 dialogs per session, 100 labelled utterances per speaker (4x `default`'s)"
    where = "the learning curve (results/curve-default/, validation speakers)"
    assert corpus_words(tmp_path / "claim1", tmp_path / "default") == (
        f"{head}; below the size at which {where} first meets every target: 48 dialogs, 200 per speaker")
    _manifest(tmp_path / "claim1", 48)
    at = f"at or above the size at which {where} first meets every target: 48 dialogs, 200 per speaker"
    assert corpus_words(tmp_path / "claim1", tmp_path / "default").endswith(f"(8x `default`'s); {at}")
    power.assign(mde=[0.06, 0.05]).to_csv(curve_dir / "power.csv", index=False)  # claim 1's power missed everywhere
    assert corpus_words(tmp_path / "claim1", tmp_path / "default").endswith(
        f"(8x `default`'s); {where} meets every target at none of its sizes")
    # a curve measured largest size first: the sizes still come smallest first
    pd.DataFrame({"dialogs_per_session": [48, 24], "labelled_per_speaker": [200.0, 100.0]}).to_csv(
        curve_dir / "sizes.csv", index=False)
    from mmlib.runner.curve import sizes_meeting_targets

    assert list(sizes_meeting_targets(curve_dir)["dialogs_per_session"]) == [24, 48]
