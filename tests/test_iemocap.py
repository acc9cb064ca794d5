"""The IEMOCAP loader on hand-written trees in the real corpus's format, awkward cases included."""

import pandas as pd
import pytest

from mmlib.data.corpus import COLUMNS, class_names, labelled
from mmlib.data.iemocap import load_corpus, parse_evaluation
from tests.iemocap_trees import write_session


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    write_session(root, 1, {
        "Ses01F_impro01": [
            (6.2901, 8.2357, "Ses01F_impro01_F000", "neu", (2.5, 2.5, 2.5)),
            (10.01, 11.3925, "Ses01F_impro01_M000", "xxx", (2.0, 3.0, 3.0)),
            (14.8872, 18.0175, "Ses01F_impro01_F001", "exc", (4.0, 3.5, 3.0)),
            (20.0, 22.5, "Ses01F_impro01_M001", "fru", (2.0, 3.5, 3.5)),
        ],
        "Ses01M_script01_2": [
            (1.0, 3.5, "Ses01M_script01_2_F000", "ang", (1.5, 4.0, 4.0)),
            (4.0, 6.0, "Ses01M_script01_2_M000", "sad", (1.5, 1.5, 2.0)),
        ],
    }, newline="\r\n")
    write_session(root, 2, {
        "Ses02F_impro03": [
            (0.5, 2.0, "Ses02F_impro03_M000", "hap", (4.5, 3.0, 3.0)),
            (2.5, 4.0, "Ses02F_impro03_F000", "sur", (3.5, 4.0, 3.0)),
        ],
    }, video=False)
    (root / "Session2" / "._Session2_hidden").write_text("x")
    return root


def test_rows_and_columns(tree):
    t = load_corpus(tree)
    assert list(t.columns) == list(COLUMNS)
    assert len(t) == 8
    assert t["id"].tolist() == sorted(t["id"])
    r = t.set_index("id").loc["Ses01F_impro01_F000"]
    assert (r.start, r.end, r.emotion, r.label) == (6.2901, 8.2357, "neu", "neu")
    assert (r.valence, r.arousal, r.dominance) == (2.5, 2.5, 2.5)
    assert (r.session, r.speaker, r.gender, r.dialog, r["mode"]) == (1, "Ses01_F", "F", "Ses01F_impro01", "impro")
    assert r.audio_path.endswith("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav")
    assert r.video_path.endswith("Session1/dialog/avi/DivX/Ses01F_impro01.avi")


def test_labels_4class_and_6class(tree):
    t4 = load_corpus(tree, "4class").set_index("id")["label"]
    assert t4["Ses01F_impro01_F001"] == "hap"  # exc merged into hap
    assert t4["Ses01F_impro01_M000"] is None and t4["Ses01F_impro01_M001"] is None
    assert sorted(labelled(load_corpus(tree)).label.value_counts().items()) == [("ang", 1), ("hap", 2), ("neu", 1), ("sad", 1)]
    t6 = load_corpus(tree, "6class").set_index("id")["label"]
    assert t6["Ses01F_impro01_F001"] == "exc" and t6["Ses01F_impro01_M001"] == "fru"
    assert class_names("6class") == ["neu", "hap", "exc", "sad", "ang", "fru"]
    with pytest.raises(KeyError, match="unknown label set"):
        load_corpus(tree, "3class")


def test_video_side_and_missing_video(tree):
    t = load_corpus(tree).set_index("id")
    # the actor named in the dialog id sits on the left
    assert t.loc["Ses01F_impro01_F000", "video_side"] == "left"
    assert t.loc["Ses01F_impro01_M000", "video_side"] == "right"
    assert t.loc["Ses01M_script01_2_M000", "video_side"] == "left"
    assert t.loc["Ses01M_script01_2_F000", "video_side"] == "right"
    assert t.loc["Ses01M_script01_2_F000", "mode"] == "script"
    assert pd.isna(t.loc["Ses02F_impro03_M000", "video_path"])


def test_malformed_line_names_file_and_line(tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    s = write_session(root, 1, {"Ses01F_impro01": [(1.0, 2.0, "Ses01F_impro01_F000", "neu")]})
    f = s / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt"
    f.write_text(f.read_text() + "[3.0 - 4.0]\tSes01F_impro01_F001\tneu\t[2.5, 2.5]\n")
    with pytest.raises(ValueError, match=r"Ses01F_impro01\.txt:7: malformed evaluation line"):
        load_corpus(root)


def test_parse_counts_exact_blocks(tree):
    rows = parse_evaluation(tree / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt")
    assert [r["id"] for r in rows] == ["Ses01F_impro01_F000", "Ses01F_impro01_M000", "Ses01F_impro01_F001", "Ses01F_impro01_M001"]


def test_parent_folder_and_bad_root(tree, tmp_path):
    assert len(load_corpus(tree.parent)) == 8  # the folder that holds IEMOCAP_full_release also works
    with pytest.raises(FileNotFoundError, match="not an IEMOCAP_full_release folder"):
        load_corpus(tmp_path / "nowhere")
