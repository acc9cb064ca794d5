"""Human reference scores (mmlib.analysis.ceilings): CREMA-D's rater votes and IEMOCAP's evaluator agreement, on
hand-made rating files whose expected WA / UA are worked out by hand below, and `mmlib ceilings` on generated trees."""

import warnings

import pandas as pd
import pytest

from mmlib.analysis import ceilings
from mmlib.analysis.ceilings import RatingsError
from mmlib.data import iemocap
from mmlib.data.splits import Fold
from mmlib.runner.cli import main
from tests.corpora import write_cremad
from tests.iemocap_trees import write_session

HEADER = ",FileName,VoiceVote,VoiceLevel,FaceVote,FaceLevel,MultiModalVote,MultiModalLevel\n"  # as released

# clip -> (voice, face, audio-visual) votes; the intended emotion is the clip's code
VOTES = {
    "1001_DFA_ANG_XX": ("A", "A:D", "A"),
    "1001_DFA_DIS_XX": ("N", "D", "D:N"),
    "1001_DFA_FEA_XX": ("F:S", "S", "F"),
    "1001_DFA_HAP_XX": ("H", "H", "H"),
    "1001_DFA_NEU_XX": ("N", "N:S", "N"),
    "1001_DFA_SAD_XX": ("N:S", "S", "S"),
    "1002_DFA_ANG_XX": ("D", "A", "A:D:F"),
    "1002_DFA_NEU_XX": ("N", "N", "H"),
    "1076_MTI_SAD_XX": ("A", "A", "A"),  # known-bad: the loader drops it, so it must not count
    "1005_DFA_HAP_XX": ("S", "S", "S"),  # rated but not in the table (not downloaded): ignored
}
TABLE_IDS = [c for c in VOTES if c.startswith(("1001", "1002"))] + ["1002_DFA_SAD_XX"]  # the last one is unrated
LABEL = {"ANG": "ang", "DIS": "dis", "FEA": "fea", "HAP": "hap", "NEU": "neu", "SAD": "sad"}

# worked by hand from VOTES: 1 = the plurality is the intended emotion, per clip in the order of VOTES (first 8)
HITS = {
    ("voice", "strict"): [1, 0, 0, 1, 1, 0, 0, 1],   # ties F:S and N:S wrong
    ("voice", "lenient"): [1, 0, 1, 1, 1, 1, 0, 1],  # F:S holds F, N:S holds S
    ("face", "strict"): [0, 1, 0, 1, 0, 1, 1, 1],
    ("face", "lenient"): [1, 1, 0, 1, 1, 1, 1, 1],
    ("audio-visual", "strict"): [1, 0, 1, 1, 1, 1, 0, 0],
    ("audio-visual", "lenient"): [1, 1, 1, 1, 1, 1, 1, 0],
}


def by_hand(hits, ids):
    """WA and UA (mean over intended emotions of the share recognised) of the clips `ids`, from HITS."""
    clips = list(VOTES)[:8]
    picked = [(LABEL[c.split("_")[2]], h) for c, h in zip(clips, hits) if c in ids]
    per_class = {}
    for label, h in picked:
        per_class.setdefault(label, []).append(h)
    return sum(h for _, h in picked) / len(picked), sum(sum(v) / len(v) for v in per_class.values()) / len(per_class)


def write_summary(path, votes=VOTES, header=HEADER):
    lines = [f"{i},{c},{v},1.5,{f},2.0,{m},1.8\n" for i, (c, (v, f, m)) in enumerate(votes.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "".join(lines))
    return path


def hand_table():
    return pd.DataFrame({"id": TABLE_IDS, "speaker": [c[:4] for c in TABLE_IDS],
                         "emotion": [c.split("_")[2] for c in TABLE_IDS],
                         "label": [LABEL[c.split("_")[2]] for c in TABLE_IDS]})


def fold(number, test_speaker, table):
    test = tuple(table.loc[table["speaker"] == test_speaker, "id"])
    return Fold(number, (), (), test, (), (), (test_speaker,))


def test_cremad_strict_and_lenient_scores_by_hand(tmp_path):
    ratings = ceilings.read_summary_table(write_summary(tmp_path / "summaryTable.csv"))
    assert list(ratings.columns) == ["voice", "face", "audio-visual"] and ratings.loc["1001_DFA_SAD_XX", "voice"] == "N:S"
    table = hand_table()
    folds = [fold(1, "1001", table), fold(2, "1002", table)]
    with pytest.warns(UserWarning, match=r"1 clip\(s\) of the utterance table are not rated in .*1002_DFA_SAD_XX"):
        got = ceilings.cremad_ceilings(ratings, table, folds, source="summaryTable.csv")
    assert list(got.columns) == ["fold", "modality", "rule", "WA", "UA", "clips"]
    assert got["fold"].tolist() == ["all"] * 6 + [1] * 6 + [2] * 6
    rated = list(VOTES)[:8]
    for f, ids in (("all", rated), (1, rated[:6]), (2, rated[6:])):
        for (modality, rule), hits in HITS.items():
            row = got[(got["fold"] == f) & (got["modality"] == modality) & (got["rule"] == rule)].iloc[0]
            wa, ua = by_hand(hits, ids)
            assert (row["WA"], row["UA"], row["clips"]) == (pytest.approx(wa), pytest.approx(ua), len(ids)), (f, modality, rule)
    overall = got[got["fold"] == "all"].set_index(["modality", "rule"])
    # the same numbers written out: voice strict 4 of 8 clips, classes ang 1/2, dis 0, fea 0, hap 1, neu 2/2, sad 0
    assert overall.loc[("voice", "strict"), ["WA", "UA"]].tolist() == pytest.approx([4 / 8, 2.5 / 6])
    assert overall.loc[("voice", "lenient"), ["WA", "UA"]].tolist() == pytest.approx([6 / 8, 4.5 / 6])
    assert overall.loc[("face", "lenient"), ["WA", "UA"]].tolist() == pytest.approx([7 / 8, 5 / 6])
    assert overall.loc[("audio-visual", "lenient"), ["WA", "UA"]].tolist() == pytest.approx([7 / 8, 5.5 / 6])


def test_malformed_summary_tables_name_the_file_and_the_format(tmp_path):
    with pytest.raises(RatingsError, match=r"missing: expected CREMA-D's processedResults/summaryTable.csv"):
        ceilings.read_summary_table(tmp_path / "none.csv")
    with pytest.raises(RatingsError, match=r"processedResults/summaryTable.csv is missing"):
        ceilings.summary_table_path(tmp_path)
    no_face = write_summary(tmp_path / "a.csv", header="FileName,VoiceVote,VoiceLevel,Face,FaceLevel,MultiModalVote,"
                                                      "MultiModalLevel\n")
    with pytest.raises(RatingsError, match=r"a.csv: columns \['FaceVote'\] are missing"):
        ceilings.read_summary_table(no_face)
    letters = write_summary(tmp_path / "b.csv", votes={**VOTES, "1001_DFA_HAP_XX": ("H", "X", "H;N")})
    with pytest.raises(RatingsError, match=r"b.csv: 1 FaceVote value\(s\) are not votes \(1001_DFA_HAP_XX: 'X'\); "
                                           r"expected emotion letters A, D, F, H, N, S"):
        ceilings.read_summary_table(letters)
    name = write_summary(tmp_path / "c.csv", votes={"1001_XYZ_ANG_XX": ("A", "A", "A")})
    with pytest.raises(RatingsError, match=r"c.csv, line 2: FileName '1001_XYZ_ANG_XX' is not a CREMA-D clip id"):
        ceilings.read_summary_table(name)
    assert issubclass(RatingsError, ValueError)


def test_a_study_run_warns_and_goes_on_without_ceilings(tmp_path):
    from mmlib.config import load_config

    cfg = load_config("cremad", {"data.root": str(tmp_path)})  # no summary table there
    with pytest.warns(UserWarning, match=r"no human ceilings: .*summaryTable.csv is missing"):
        assert ceilings.study_ceilings(cfg, hand_table()) is None


# ------------------------------------------------------------------ IEMOCAP

SELF = "C-F1:\tAnger;\t()"  # the actor's own answer: never read
DIM = "A-E3:\tval 3; act 2; dom  2;\t()"
# (start, end, utterance, corpus code, vad, evaluator lines)
SESSION1 = [
    (0.0, 1.0, "Ses01F_impro01_F000", "neu", (2.5, 2.5, 2.5),
     ("C-E1:\tNeutral;\t()", "C-E2:\tNeutral;\t(tired)", "C-E3:\tFrustration;\t()", SELF, DIM)),
    (1.0, 2.0, "Ses01F_impro01_M000", "exc", (4.0, 4.0, 3.0),
     ("C-E1:\tExcited;\t()", "C-E2:\tHappiness; Excited;\t()", "C-E4:\tExcited;\t()", DIM)),
    (2.0, 3.0, "Ses01F_impro01_F001", "ang", (1.5, 4.5, 4.0),
     ("C-E1:\tFrustration; Anger;\t()", "C-E2:\tAnger;\t()", "C-E3:\tAnger;\t(raised voice)", DIM)),
]
SESSION2 = [
    (0.0, 1.0, "Ses02F_impro01_F000", "sad", (1.5, 1.5, 2.0),
     ("C-E1:\tSadness;\t()", "C-E2:\tSadness;\t()", "C-E3:\tNeutral;\t()", "C-E5:\tSadness;\t()", DIM)),
    (1.0, 2.0, "Ses02F_impro01_M000", "fru", (2.0, 3.5, 3.5),  # outside the 4-class set: not scored
     ("C-E1:\tFrustration;\t()", "C-E2:\tFrustration;\t()", "C-E3:\tAnger;\t()", DIM)),
    (2.0, 3.0, "Ses02F_impro01_M001", "neu", (2.5, 2.5, 2.5), ("C-E2:\tNeutral;\t()", DIM)),  # one evaluator
]
# by hand, per scored answer (E1, E2, E3[, E4/E5]) against the plurality of the other evaluators:
# F000 neu: E1 vs {neu, outside} tie, E2 the same, E3 outside         strict 0 0 0   lenient 1 1 0
# M000 hap: everyone hap (Excited, Happiness)                          strict 1 1 1   lenient 1 1 1
# F001 ang: E1 outside (first listed), E2 and E3 vs {outside, ang} tie strict 0 0 0   lenient 0 1 1
# Ses02 F000 sad: E1, E2, E5 vs a sad majority, E3 neu                 strict 1 1 0 1 lenient 1 1 0 1
AGREEMENT = {"strict": {"neu": [0, 0, 0], "hap": [1, 1, 1], "ang": [0, 0, 0], "sad": [1, 1, 0, 1]},
             "lenient": {"neu": [1, 1, 0], "hap": [1, 1, 1], "ang": [0, 1, 1], "sad": [1, 1, 0, 1]}}


@pytest.fixture
def iemocap_tree(tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    write_session(root, 1, {"Ses01F_impro01": SESSION1})
    write_session(root, 2, {"Ses02F_impro01": SESSION2})
    return root


def test_evaluator_lines_are_parsed(iemocap_tree):
    votes = ceilings.read_evaluations(iemocap_tree / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt")
    assert len(votes) == 9 and set(votes["evaluator"]) == {"E1", "E2", "E3", "E4"}  # no F1 (self), no A-E3
    assert votes.set_index(["id", "evaluator"]).loc[("Ses01F_impro01_F001", "E1"), "category"] == "Frustration"
    assert votes.set_index(["id", "evaluator"]).loc[("Ses01F_impro01_M000", "E2"), "code"] == "exc"
    assert len(ceilings.evaluator_votes(iemocap_tree)) == 9 + 8  # the Categorical/ and ._ files are not read


def test_iemocap_agreement_by_hand(iemocap_tree):
    table = iemocap.load_corpus(iemocap_tree)
    with pytest.warns(UserWarning, match=r"1 utterance\(s\) have a single evaluator.*Ses02F_impro01_M001"):
        got = ceilings.iemocap_agreement(ceilings.evaluator_votes(iemocap_tree), table)
    assert list(got.columns) == ["fold", "modality", "rule", "WA", "UA", "clips", "ratings"]
    for rule, hits in AGREEMENT.items():
        row = got[got["rule"] == rule].iloc[0]
        answers = [h for v in hits.values() for h in v]
        assert row["WA"] == pytest.approx(sum(answers) / len(answers))
        assert row["UA"] == pytest.approx(sum(sum(v) / len(v) for v in hits.values()) / 4)
        assert (row["fold"], row["modality"], row["clips"], row["ratings"]) == ("all", "audio-visual", 4, 13)
    assert got["WA"].tolist() == pytest.approx([6 / 13, 10 / 13])
    assert got["UA"].tolist() == pytest.approx([1.75 / 4, (2 / 3 + 1 + 2 / 3 + 0.75) / 4])


def test_iemocap_evaluator_line_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("C-E1:\tNeutral;\t()\n")
    with pytest.raises(RatingsError, match=r"bad.txt:1: evaluator line .* comes before any block header"):
        ceilings.read_evaluations(bad)
    bad.write_text("[0.0 - 1.0]\tSes01F_impro01_F000\tneu\t[2.5, 2.5, 2.5]\nC-E1:\t;\t()\n")
    with pytest.raises(RatingsError, match=r"bad.txt:2: evaluator line .* names no category"):
        ceilings.read_evaluations(bad)


# ------------------------------------------------------------------ the command line

@pytest.fixture(scope="module")
def cremad_tree(tmp_path_factory):
    """Actors 1001-1004 (DFA, six emotions each) and the known-bad imitations; the summary table of VOTES inside."""
    root = write_cremad(tmp_path_factory.mktemp("crema") / "CREMA-D", actors=range(1001, 1005), sentences=("DFA",))
    write_summary(root / "processedResults" / "summaryTable.csv")
    return root


CLI_OVERRIDES = ["-o", "data.protocol=actor3"]  # the literature's cremad5_lit folds need all 91 actors


def test_cli_on_a_generated_cremad_tree(cremad_tree, tmp_path, capsys):
    out = tmp_path / "ceilings.csv"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        main(["ceilings", "--profile", "cremad", "--data-root", str(cremad_tree), "--out", str(out), *CLI_OVERRIDES])
    said = " ".join(str(w.message) for w in caught)
    # the loader's table: 24 clips (the known-bad ones dropped, 1076_MTI_SAD_XX's rating unused); VOTES rates 8
    assert "dropped the known-bad" in said and "16 clip(s) of the utterance table are not rated" in said
    got = pd.read_csv(out)
    assert list(got.columns) == ["modality", "rule", "WA", "UA", "clips"] and got["clips"].tolist() == [8] * 6
    assert got.set_index(["modality", "rule"]).loc[("voice", "strict"), ["WA", "UA"]].tolist() == pytest.approx(
        [4 / 8, 2.5 / 6])
    per_fold = pd.read_csv(tmp_path / "ceilings_folds.csv", dtype={"fold": str})
    assert per_fold["fold"].unique().tolist() == ["all", "1", "2", "3"]
    one = per_fold[per_fold["fold"] == "1"].set_index(["modality", "rule"])  # actor3 fold 1 tests 1001 and 1004
    assert one.loc[("voice", "strict"), ["WA", "clips"]].tolist() == [3 / 6, 6]
    three = per_fold[per_fold["fold"] == "3"]  # tests 1003, whom VOTES does not rate: no score, 0 clips
    assert len(three) == 6 and three["WA"].isna().all() and (three["clips"] == 0).all()
    printed = capsys.readouterr().out
    assert "audio-visual" in printed and "lenient" in printed and "ceilings.csv" in printed


def test_cli_errors_without_a_traceback(cremad_tree, tmp_path, capsys):
    broken = write_summary(tmp_path / "broken.csv", header="FileName,VoiceVote\n", votes={})
    with pytest.raises(SystemExit) as exit_:
        main(["ceilings", "--profile", "cremad", "--data-root", str(cremad_tree), "--csv", str(broken)])
    assert exit_.value.code != 0
    err = capsys.readouterr().err
    assert err.startswith("mmlib ceilings: error:") and "broken.csv: columns" in err and "Traceback" not in err


def test_cli_iemocap_agreement(iemocap_tree, tmp_path, capsys):
    out = tmp_path / "agreement.csv"
    with pytest.warns(UserWarning, match="single evaluator"):
        main(["ceilings", "--profile", "iemocap", "--data-root", str(iemocap_tree), "--out", str(out)])
    got = pd.read_csv(out)
    assert got["WA"].tolist() == pytest.approx([6 / 13, 10 / 13]) and got["rule"].tolist() == ["strict", "lenient"]
    folds = pd.read_csv(tmp_path / "agreement_folds.csv", dtype={"fold": str})
    one = folds[folds["fold"] == "1"].set_index("rule")  # loso5 fold 1 tests session 1: F000, M000, F001
    assert one.loc["strict", "WA"] == pytest.approx(3 / 9) and one.loc["lenient", "WA"] == pytest.approx(7 / 9)
    assert "evaluator agreement" in capsys.readouterr().out
