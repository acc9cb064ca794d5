"""The grid of trainings: planning (dependencies, no duplicates) and the Ray executor giving the same
numbers as the sequential one."""

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from mmlib.training import grid
from mmlib.training.checkpoints import ModelSpec


def test_plan_adds_unimodal_dependencies_once(quick_session):
    st = quick_session
    fold = st.folds[0]
    cfg = st.cfg
    jobs = [grid.Job(ModelSpec(cfg, h, fold, s)) for h in ("concat", "matchmap", "matchmap_attn") for s in (42, 43)]
    jobs += [grid.Job(ModelSpec(cfg.with_overrides({"train.similarity": "SISA"}), "matchmap", fold, 42)),
             grid.Job(ModelSpec(cfg.with_overrides({"train.rank_weight": 0.5}), "matchmap", fold, 42))]
    todo = grid.plan(jobs)
    heads = [j.spec.head for j in todo]
    # 2 seeds x (audio, video): a ranking-loss setting shares the unimodal models of the main config
    assert heads[:4] == ["audio", "video", "audio", "video"] and heads.count("audio") == 2
    assert len(todo) == 4 + 6 + 2
    assert len({j.key for j in todo}) == len(todo)
    # a setting that shapes the unimodal models gets its own
    other = grid.plan([grid.Job(ModelSpec(cfg.with_overrides({"data.speaker_norm": False}), "concat", fold, 42))]
                      + jobs[:1])
    assert [j.spec.head for j in other].count("audio") == 2
    # a job's retrain flag reaches the trainings it starts from; what a run already trained is kept by grid.run
    retrain = [grid.Job(ModelSpec(cfg, "concat", fold, 42), retrain=True)]
    assert {j.spec.head: j.retrain for j in grid.plan(retrain)} == {"audio": True, "video": True, "concat": True}


def test_within_a_run_what_was_already_trained_is_not_retrained_again(quick_session, tmp_path):
    st = quick_session
    fold = st.folds[0]
    cfg = st.cfg.with_overrides({"train.max_epochs": 1, "run.executor": "sequential"})
    (audio,) = grid.run([grid.Job(ModelSpec(cfg, "audio", fold, 42))], st.table, st.feats, tmp_path, cfg.run,
                        progress=False)
    retrain = [grid.Job(ModelSpec(cfg, "concat", fold, 42), retrain=True)]
    done = []
    grid.run(retrain, st.table, st.feats, tmp_path, cfg.run, progress=False,
             keep=frozenset({Path(audio.checkpoint).name}), on_outcome=done.append)
    flags = {o.job.spec.head: not o.trained for o in done}  # True: reused, not retrained
    assert flags == {"audio": True, "video": False, "concat": False}


def test_local_workers_never_oversubscribe():
    from mmlib.config import RunConfig

    cores = grid.local_workers(RunConfig(), threads=1)
    assert cores >= 1
    assert grid.local_workers(RunConfig(), threads=cores) == 1
    assert grid.local_workers(RunConfig(workers=3), threads=1) == 3


@pytest.mark.slow  # a local Ray and 8 trainings: make test, not test-fast
def test_ray_gives_the_same_predictions_as_sequential(quick_session, tmp_path):
    st = quick_session
    out = {}
    for executor in ("sequential", "ray"):
        st2 = dataclasses.replace(st, cfg=st.cfg.with_overrides({"run.executor": executor}),
                                  ckpt_dir=tmp_path / executor, results_dir=tmp_path / f"res-{executor}", used={})
        st2.results_dir.mkdir()
        out[executor] = st2.run_models(["concat", "matchmap_attn"], {"train.max_epochs": 2})
        ledger = pd.read_json(st2.results_dir / "checkpoints.jsonl", lines=True)
        assert sorted(ledger["head"]) == ["audio", "concat", "matchmap_attn", "video"] and ledger["trained"].all()
    pd.testing.assert_frame_equal(out["sequential"], out["ray"])
    ckpts = {e: sorted(p.name for p in (tmp_path / e).glob("*.pt")) for e in ("sequential", "ray")}
    assert ckpts["sequential"] == ckpts["ray"] and len(ckpts["ray"]) == 4


def test_unknown_executor(quick_session):
    st = quick_session
    with pytest.raises(ValueError, match="run.executor must be one of"):
        grid.run([], st.table, st.feats, "/tmp", st.cfg.with_overrides({"run.executor": "dask"}).run)
