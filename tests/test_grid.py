"""The grid of trainings: planning (dependencies, no duplicates) and the Ray executor giving the same
numbers as the sequential one."""

import pandas as pd
import pytest

from mmlib import experiments as ex
from mmlib import grid


def test_plan_adds_unimodal_dependencies_once(quick_study):
    st = quick_study
    fold = st.folds[0]
    cfg = st.cfg
    jobs = [grid.Job(cfg, h, fold, s) for h in ("concat", "matchmap", "matchmap_attn") for s in (42, 43)]
    jobs += [grid.Job(cfg.with_overrides({"train.similarity": "SISA"}), "matchmap", fold, 42),
             grid.Job(cfg.with_overrides({"train.rank_weight": 0.5}), "matchmap", fold, 42)]
    todo = grid.plan(jobs)
    heads = [j.head for j in todo]
    # 2 seeds x (audio, video): a ranking-loss setting shares the unimodal models of the main config
    assert heads[:4] == ["audio", "video", "audio", "video"] and heads.count("audio") == 2
    assert len(todo) == 4 + 6 + 2
    assert len({j.key for j in todo}) == len(todo)
    # a setting that shapes the unimodal models gets its own
    other = grid.plan([grid.Job(cfg.with_overrides({"data.speaker_norm": False}), "concat", fold, 42)] + jobs[:1])
    assert [j.head for j in other].count("audio") == 2
    # within a run, what was already trained is not retrained again
    retrain = [grid.Job(cfg, "concat", fold, 42, retrain=True)]
    trained = {grid.Job(cfg, "audio", fold, 42).key}
    flags = {j.head: j.retrain for j in grid.plan(retrain, trained)}
    assert flags == {"audio": False, "video": True, "concat": True}


def test_local_workers_never_oversubscribe():
    from mmlib.config import RunConfig

    cores = grid.local_workers(RunConfig(), threads=1)
    assert cores >= 1
    assert grid.local_workers(RunConfig(), threads=cores) == 1
    assert grid.local_workers(RunConfig(workers=3), threads=1) == 3


def test_ray_gives_the_same_predictions_as_sequential(quick_study, tmp_path):
    st = quick_study
    out = {}
    for executor in ("sequential", "ray"):
        st2 = ex.Study(**{**st.__dict__, "cfg": st.cfg.with_overrides({"run.executor": executor}),
                          "ckpt_dir": tmp_path / executor, "results_dir": tmp_path / f"res-{executor}",
                          "checkpoints": {}})
        st2.results_dir.mkdir()
        out[executor] = ex.run_models(st2, ["concat", "matchmap_attn"], {"train.max_epochs": 2})
        ledger = pd.read_json(st2.results_dir / "checkpoints.jsonl", lines=True)
        assert sorted(ledger["head"]) == ["audio", "concat", "matchmap_attn", "video"] and ledger["trained"].all()
    pd.testing.assert_frame_equal(out["sequential"], out["ray"])
    ckpts = {e: sorted(p.name for p in (tmp_path / e).glob("*.pt")) for e in ("sequential", "ray")}
    assert ckpts["sequential"] == ckpts["ray"] and len(ckpts["ray"]) == 4


def test_unknown_executor(quick_study):
    st = quick_study
    with pytest.raises(ValueError, match="run.executor must be one of"):
        grid.run([], st.table, st.feats, "/tmp", st.cfg.with_overrides({"run.executor": "dask"}).run)
