"""mmlib.analysis.targets on hand-made tables: each target's value, whether it is met and by how much it misses."""

import pandas as pd
import pytest

from mmlib.analysis import targets


def test_table_bounds_every_model_and_claim_1s_power():
    refs = pd.DataFrame({"model": ["audio", "matchmap"], "UA_mean": [0.50, 0.80], "probe": [0.48, 0.83],
                         "oracle_large_draw": [0.53, 0.90]})
    summary = pd.DataFrame({"model": ["audio", "matchmap"], "UA_seed_range": [0.03, 0.09]})
    primary = pd.DataFrame({"claim": ["1", "2 (face)"], "contrast": ["matchmap - concat", "slope"],
                            "mde": [0.106, 0.2]})
    t = targets.table(refs, summary, primary)
    probe, near, seeds, power = list(targets.TARGETS)
    assert t["target"].tolist() == [probe, probe, near, near, seeds, seeds, power]  # grouped by target
    assert t["subject"].tolist() == ["audio", "matchmap"] * 3 + ["matchmap - concat"]
    assert t["value"].tolist() == pytest.approx([0.02, -0.03, 0.03, 0.10, 0.03, 0.09, 0.106])
    assert t["met"].tolist() == [True, False, True, False, True, False, False]
    assert t["short"].tolist() == pytest.approx([0.0, 0.03, 0.0, 0.05, 0.0, 0.05, 0.066])


def test_a_model_without_a_reference_skips_that_target():
    refs = pd.DataFrame({"model": ["audio"], "UA_mean": [0.5], "probe": [0.4], "oracle_large_draw": [float("nan")]})
    t = targets.table(refs, pd.DataFrame({"model": ["audio"], "UA_seed_range": [0.01]}))
    assert t["target"].tolist() == [list(targets.TARGETS)[0], list(targets.TARGETS)[2]]
    assert t["met"].all()


def test_by_size_counts_heads_at_each_size_and_finds_where_all_hold():
    rows = []
    for size, (audio, fusion, probe_a, probe_b, large_a, large_b) in {
            52.0: (0.50, 0.75, 0.55, 0.77, 0.67, 0.88), 214.0: (0.64, 0.86, 0.57, 0.82, 0.68, 0.89)}.items():
        for model, ua in (("audio", audio), ("matchmap", fusion), ("probe: audio", probe_a), ("probe: both", probe_b),
                          ("oracle (large draw): arousal only", large_a), ("oracle (large draw): both", large_b)):
            rows.append({"labelled_per_speaker": size, "model": model, "UA": ua})
    power = pd.DataFrame({"labelled_per_speaker": [52.0, 214.0], "mde": [0.065, 0.013]})
    ref = {"audio": ("probe: audio", "oracle (large draw): arousal only")}
    met = targets.by_size(pd.DataFrame(rows), power, ref, heads=("audio", "matchmap"))
    assert met["at_or_above_probe"].tolist() == [0, 2]
    assert met["near_ceiling"].tolist() == [0, 2]  # 0.67 - 0.50 and 0.88 - 0.75 miss; 0.04 and 0.03 are within
    assert met["all_met"].tolist() == [False, True]
    assert met["mde"].tolist() == pytest.approx([0.065, 0.013])
