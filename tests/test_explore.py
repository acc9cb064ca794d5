"""The utterance explorer: its tables from hand-made predictions, the static figure, the widget."""

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from mmlib.figures import figcheck
from mmlib.runner import explore


@pytest.fixture
def study_with_predictions(quick_session, tmp_path):
    """The quick study with hand-made predictions in a fresh results_dir: audio always says its first
    class, matchmap is right on every utterance; two seeds each."""
    st = quick_session
    test = sorted(st.folds[0].test)
    rows = []
    for seed, p_right in ((42, 0.7), (43, 0.9)):
        for uid in test:
            true = st.table.set_index("id").at[uid, "label"]
            for model, guess in (("audio", st.classes[0]), ("matchmap", true)):
                probs = {f"p_{c}": (p_right if c == guess else (1 - p_right) / 3) for c in st.classes}
                rows.append({"id": uid, "fold": 1, "seed": seed, "model": model, "true": true, "pred": guess, **probs})
    pred = pd.DataFrame(rows)
    (tmp_path / "predictions").mkdir()
    pred[pred["model"] == "audio"].to_csv(tmp_path / "predictions" / "unimodal.csv", index=False)
    pred[pred["model"] == "matchmap"].to_csv(tmp_path / "predictions" / "fusion.csv", index=False)
    old = st.results_dir
    st.results_dir = tmp_path
    yield st, test
    st.results_dir = old


def test_tables_average_seeds_and_count_wrong_models(study_with_predictions):
    st, test = study_with_predictions
    tab = explore.utterances(st)
    assert list(tab["id"]) == test and list(tab.columns[-3:]) == ["audio", "matchmap", "n_wrong"]
    truth = st.table.set_index("id").loc[test, "label"].to_numpy()
    assert (tab["matchmap"].to_numpy() == truth).all() and (tab["audio"] == st.classes[0]).all()
    assert list(tab["n_wrong"]) == [int(t != st.classes[0]) for t in truth]
    probs = explore.probabilities(explore.predictions(st), st.classes)
    uid = test[0]
    assert probs.loc[(uid, "matchmap"), f"p_{truth[0]}"] == pytest.approx(0.8)  # (0.7 + 0.9) / 2
    picked = explore.pick(tab)
    assert tab.set_index("id").loc[picked[0], "n_wrong"] == 0 and len(picked) == min(3, len(tab))
    assert tab.set_index("id").loc[picked[-1], "n_wrong"] == tab["n_wrong"].max()


def test_static_figure_is_clean(study_with_predictions):
    st, test = study_with_predictions
    assert explore.explore(st, interactive=False) is None  # drawn, not returned: a notebook shows it once
    fig = plt.gcf()
    assert len(fig.axes) == 3 * 3 and figcheck.problems(fig) == []
    plt.close("all")


def test_widget_filters_and_shows_an_utterance(study_with_predictions):
    st, test = study_with_predictions
    box = explore.explore(st, interactive=True)
    assert len(box.utterance.options) == len(test) and box.utterance.value == test[0]  # shown at once
    wrong = [uid for uid in test if st.table.set_index("id").at[uid, "label"] != st.classes[0]]
    controls = {c.description: c for row in box.children[:2] for c in row.children}
    controls["judged by"].value = "audio"
    controls["outcome"].value = "wrong"
    assert [v for _, v in box.utterance.options] == wrong and box.utterance.value == wrong[0]
    controls["class"].value = st.classes[0]
    assert box.utterance.options == ()  # audio is never wrong on its own class
    controls["class"].value = "any"
    box.utterance.value = wrong[0]
    box.show()  # no trained checkpoint here: spectrogram and frames instead of the matchmap
    plt.close("all")


def test_missing_predictions_name_the_folder(quick_session, tmp_path):
    old = quick_session.results_dir
    quick_session.results_dir = tmp_path
    try:
        with pytest.raises(FileNotFoundError, match=f"no predictions in {tmp_path / 'predictions'}"):
            explore.predictions(quick_session)
    finally:
        quick_session.results_dir = old
