"""Speaker-independent folds: exact membership, determinism, no leakage."""

import numpy as np
import pandas as pd
import pytest

from mmlib.data.splits import check_folds, make_folds, select_folds


def fake_table(n_sessions=5, per_speaker=6, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, n_sessions + 1):
        for g in "FM":
            for k in range(per_speaker):
                rows.append({"id": f"Ses{s:02d}F_impro01_{g}{k:03d}", "session": s, "speaker": f"Ses{s:02d}_{g}", "gender": g})
    t = pd.DataFrame(rows)
    return t.iloc[rng.permutation(len(t))].reset_index(drop=True)  # directory order must not matter


def test_loso5_membership():
    folds = make_folds(fake_table(), "loso5")
    assert [f.number for f in folds] == [1, 2, 3, 4, 5]
    f1, f2 = folds[0], folds[1]
    assert f1.test_speakers == ("Ses01_F", "Ses01_M") and f1.val_speakers == ("Ses02_F",)
    assert f2.test_speakers == ("Ses02_F", "Ses02_M") and f2.val_speakers == ("Ses03_M",)
    assert folds[4].val_speakers == ("Ses01_F",)
    assert (len(f1.train), len(f1.val), len(f1.test)) == (42, 6, 12)
    # every utterance is tested exactly once over the 5 folds
    tested = sorted(u for f in folds for u in f.test)
    assert tested == sorted(fake_table()["id"])


def test_session_speaker10_membership():
    folds = make_folds(fake_table(), "session_speaker10")
    assert len(folds) == 10
    assert folds[0].val_speakers == ("Ses01_F",) and folds[0].test_speakers == ("Ses01_M",)
    assert folds[5].val_speakers == ("Ses01_M",) and folds[5].test_speakers == ("Ses01_F",)
    assert folds[9].test_speakers == ("Ses05_F",)
    assert all(len(f.train_speakers) == 8 for f in folds)


@pytest.mark.parametrize("protocol", ["loso5", "session_speaker10", "actor5"])
def test_no_speaker_in_two_parts_and_deterministic(protocol):
    a = make_folds(fake_table(seed=1), protocol)
    b = make_folds(fake_table(seed=2), protocol)  # shuffled rows, same folds
    assert a == b
    table = fake_table()
    spk = dict(zip(table["id"], table["speaker"]))
    for f in a:
        parts = [{spk[u] for u in f.part(p)} for p in ("train", "val", "test")]
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
        assert len(set(f.train) | set(f.val) | set(f.test)) == len(table)


def test_check_folds_catches_leak():
    f = make_folds(fake_table(), "loso5")[0]
    leaky = type(f)(f.number, f.train, f.val, f.test, f.train_speakers + ("Ses01_F",), f.val_speakers, f.test_speakers)
    with pytest.raises(AssertionError, match=r"fold 1: speakers \['Ses01_F'\] are in both train and test"):
        check_folds([leaky])


def test_errors():
    with pytest.raises(ValueError, match="unknown protocol"):
        make_folds(fake_table(), "kfold")
    with pytest.raises(ValueError, match=r"folds \[7\] do not exist"):
        select_folds(make_folds(fake_table(), "loso5"), [1, 7])
    bad = fake_table()
    bad = bad[~((bad.session == 3) & (bad.gender == "M"))]
    with pytest.raises(ValueError, match="session 3 must have exactly one female and one male"):
        make_folds(bad, "session_speaker10")


def actor_table(speakers, per_actor=3, seed=0):
    """A RAVDESS/CREMA-D-shaped table: one session, the given speaker ids, rows in random order."""
    rows = [{"id": f"{spk}_{k:02d}", "session": 1, "speaker": spk, "gender": "U"}
            for spk in speakers for k in range(per_actor)]
    t = pd.DataFrame(rows)
    return t.iloc[np.random.default_rng(seed).permutation(len(t))].reset_index(drop=True)


RAVDESS = [f"Actor_{n:02d}" for n in range(1, 25)]
CREMAD = [str(n) for n in range(1001, 1092)]


def test_ravdess6_lit_membership():
    folds = make_folds(actor_table(RAVDESS), "ravdess6_lit")
    assert [f.test_speakers for f in folds] == [tuple(RAVDESS[i:i + 4]) for i in range(0, 24, 4)]
    assert [f.val_speakers for f in folds] == [tuple(RAVDESS[i:i + 4]) for i in (4, 8, 12, 16, 20, 0)]
    assert all(len(f.train_speakers) == 16 for f in folds)
    assert folds[0].train_speakers == tuple(RAVDESS[8:])


def test_cremad5_lit_membership():
    folds = make_folds(actor_table(CREMAD), "cremad5_lit")
    assert [(f.test_speakers[0], f.test_speakers[-1], len(f.test_speakers)) for f in folds] == [
        ("1001", "1018", 18), ("1019", "1036", 18), ("1037", "1054", 18), ("1055", "1072", 18), ("1073", "1091", 19)]
    assert folds[4].val_speakers == tuple(CREMAD[:18])  # cyclic: the last fold validates on the first block
    assert [len(f.train_speakers) for f in folds] == [55, 55, 55, 54, 54]


@pytest.mark.parametrize("protocol,speakers", [("ravdess6_lit", RAVDESS), ("cremad5_lit", CREMAD),
                                               ("actor6", RAVDESS), ("actor5", CREMAD)])
def test_actor_protocols_never_leak_and_test_everyone_once(protocol, speakers):
    a = make_folds(actor_table(speakers, seed=1), protocol)
    assert a == make_folds(actor_table(speakers, seed=2), protocol)  # row order does not matter
    table = actor_table(speakers)
    spk = dict(zip(table["id"], table["speaker"]))
    for f in a:
        parts = [{spk[u] for u in f.part(p)} for p in ("train", "val", "test")]
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
        assert len(set(f.train) | set(f.val) | set(f.test)) == len(table)
    assert sorted(u for f in a for u in f.test) == sorted(table["id"])


def test_literature_protocols_need_their_corpus():
    with pytest.raises(ValueError, match=r"protocol ravdess6_lit: the table has no actor numbered 9-12 \(fold 3\), "
                                         r"13-16 \(fold 4\), 17-20 \(fold 5\), 21-24 \(fold 6\)"):
        make_folds(actor_table(RAVDESS[:8]), "ravdess6_lit")
    with pytest.raises(ValueError, match=r"protocol cremad5_lit: speaker 'Actor_01' is not an actor number in 1001-"):
        make_folds(actor_table(RAVDESS), "cremad5_lit")
