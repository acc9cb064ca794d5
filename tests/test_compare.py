"""mmlib.runner.compare (`mmlib compare RUN_A RUN_B`) on hand-made run folders: a rerun that reproduces, one that
flips a verdict and moves an estimate, tables and rows only one run has; and the manifest's CPU identity.

    .venv/bin/python -m pytest -q tests/test_compare.py
"""

import json

import pandas as pd
import pytest

from mmlib.runner import cli, compare
from mmlib.runner.study import cpu_identity

PRIMARY = {"claim": "1", "contrast": "matchmap - concat", "metric": "UA", "estimate": -0.0188, "lo": -0.0851,
           "hi": 0.0475, "p": 0.3526, "mde": 0.0673, "p_vs_paper": 0.0038, "tost_margin": 0.04, "p_tost": 0.1509,
           "folds": 5, "seeds": 3,
           "verdict": "not shown; a +7-point gain is rejected (p = 0.004); equivalence within ±4 points not shown "
                      "(p = 0.151)"}
CLAIM1 = [{"claim": "matchmap vs concat", "model_a": "matchmap", "model_b": "concat", "metric": "UA", "diff": -0.02,
           "diff_lo": -0.08, "diff_hi": 0.04, "p_holm": 0.35, "verdict": "not shown"},
          {"claim": "matchmap vs audio", "model_a": "matchmap", "model_b": "audio", "metric": "UA", "diff": 0.14,
           "diff_lo": 0.06, "diff_hi": 0.22, "p_holm": 0.01, "verdict": "shown: matchmap > audio"}]


def write_run(root, primary=PRIMARY, claim1=CLAIM1, extra=None, cpu=None):
    (root / "tables").mkdir(parents=True)
    if primary is not None:
        pd.DataFrame([primary]).to_csv(root / "tables" / "primary_tests.csv", index=False)
    pd.DataFrame(claim1).to_csv(root / "tables" / "claim1.csv", index=False)
    pd.DataFrame([{"model": "audio", "UA_mean": 0.5}]).to_csv(root / "tables" / "summary.csv", index=False)  # no verdict
    for name, rows in (extra or {}).items():
        pd.DataFrame(rows).to_csv(root / "tables" / name, index=False)
    if cpu:
        (root / "manifest.json").write_text(json.dumps({"machine": {"cpu_model": cpu[0], "cpu_capability": cpu[1]}}))
    return root


def test_a_rerun_within_a_quarter_interval_and_with_the_same_decisions_reproduces(tmp_path, capsys):
    a = write_run(tmp_path / "a", cpu=("AMD EPYC", "AVX512"))
    # estimates moved by less than a quarter of the reference width (0.1326 / 4 = 0.0332; 0.06 / 4 = 0.015),
    # the verdict's p-values changed but not its decisions
    b = write_run(tmp_path / "b", primary={**PRIMARY, "estimate": -0.0188 + 0.033, "p_tost": 0.2,
                                           "verdict": PRIMARY["verdict"].replace("0.151", "0.200")},
                  claim1=[{**CLAIM1[0], "diff": -0.02 - 0.0149}, CLAIM1[1]], cpu=("Intel Xeon", "AVX2"))
    result = compare.compare_runs(a, b)
    assert result.rows["table"].tolist() == ["claim1.csv", "claim1.csv", "primary_tests.csv"]
    assert result.rows["row"].tolist() == ["matchmap vs concat", "matchmap vs audio", "1"]
    assert result.rows["allowed"].tolist() == pytest.approx([0.03, 0.04, 0.25 * 0.1326])
    assert result.rows["change"].tolist() == pytest.approx([-0.0149, 0.0, 0.033])
    assert (result.flips, result.moved, result.unmatched, result.compared) == (0, 0, 0, 3) and result.reproduces
    assert compare.main(a, b) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"A (reference): {a}  [AMD EPYC (AVX512)]" and out[1] == f"B (rerun):     {b}  [Intel Xeon (AVX2)]"
    assert out[-1] == "reproduces: every verdict the same, every estimate within a quarter of its interval (3 rows)"
    assert cli.main(["compare", str(a), str(b)]) is None  # exit status 0


def test_a_flipped_verdict_and_a_moved_estimate_do_not_reproduce(tmp_path, capsys):
    a = write_run(tmp_path / "a")
    b = write_run(tmp_path / "b", primary={**PRIMARY, "estimate": 0.03},  # moved by 0.0488 > 0.0332
                  claim1=[{**CLAIM1[0], "diff": 0.05, "diff_lo": 0.01, "verdict": "shown: matchmap > concat"},
                          CLAIM1[1]])
    result = compare.compare_runs(a, b)
    assert result.rows["status"].tolist() == ["verdict flips", "same", "same"]
    assert result.rows["moved"].tolist() == [True, False, True]
    assert not result.reproduces
    assert result.conclusion() == ("does not reproduce: 1 verdict flip, 2 estimates moved by more than a quarter of "
                                   "the reference interval (3 rows compared)")
    assert compare.main(a, b) == 1
    out = capsys.readouterr().out
    assert "matchmap vs concat   -0.0200   0.0500  +0.0700   0.0300  MOVED     verdict flips: not shown" in out
    assert "now: shown: matchmap > concat" in out
    with pytest.raises(SystemExit) as exit_:
        cli.main(["compare", str(a), str(b)])
    assert exit_.value.code == 1


def test_tables_and_rows_only_one_run_has_are_reported(tmp_path, capsys):
    a = write_run(tmp_path / "a", extra={"claim2.csv": [{"contrast": "(a)", "claim": "slope", "diff": 0.01,
                                                         "diff_lo": -0.05, "diff_hi": 0.07, "verdict": "not shown"}]})
    b = write_run(tmp_path / "b", primary=None)
    result = compare.compare_runs(a, b)
    assert (result.only_in_a, result.only_in_b) == (["claim2.csv", "primary_tests.csv"], [])
    assert result.reproduces  # the tables both runs have agree; the others are reported, not compared
    assert result.conclusion() == ("reproduces: every verdict the same, every estimate within a quarter of its "
                                   "interval (2 rows); claim2.csv only in A, not compared; primary_tests.csv only in "
                                   "A, not compared")
    c = write_run(tmp_path / "c", claim1=CLAIM1[:1])  # a row of a shared table is missing: that is a difference
    result = compare.compare_runs(a, c)
    assert result.rows.set_index("row").loc["matchmap vs audio", "status"] == "only in A"
    assert not result.reproduces and "1 row in one run only" in result.conclusion()
    assert compare.main(a, c) == 1
    assert "matchmap vs audio   only in A" in capsys.readouterr().out.splitlines()
    with pytest.raises(FileNotFoundError):
        compare.compare_runs(a, tmp_path / "nowhere")


def test_rows_are_named_by_the_fewest_columns_that_tell_them_apart():
    table = pd.DataFrame({"modality": ["face", "face", "voice"], "level": [0.0, 0.5, 0.0],
                          "model": ["matchmap"] * 3, "model_a": ["matchmap"] * 3, "verdict": ["not shown"] * 3})
    assert compare._labels(table) == ["face | 0.0", "face | 0.5", "voice | 0.0"]
    assert compare._labels(table.assign(level=0.0)) == ["face | 0.0 | matchmap #1", "face | 0.0 | matchmap #2",
                                                        "voice | 0.0 | matchmap"]
    assert compare.normalize_verdict("not shown; a +7-point gain is rejected (p = <0.001); equivalence within ±4 "
                                     "points not shown (p = 0.151)") == (
        "not shown; a +7-point gain is rejected; equivalence within ±4 points not shown")


def test_cpu_identity_reads_the_model_name_and_torchs_capability(tmp_path):
    import torch

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU\n\n"
                    "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU\n")
    got = cpu_identity(info)
    assert got == {"cpu_model": "Intel(R) Xeon(R) Gold 6338 CPU",
                   "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                   "cpu_bf16": torch.ops.mkldnn._is_mkldnn_bf16_supported()}
    import platform

    assert cpu_identity(tmp_path / "missing")["cpu_model"] == (platform.processor() or None)
