"""Browse a study's test utterances: hear one, see its log-mel and face, every model's probabilities,
and what a trained fusion model's matchmap looks at.

    from mmlib.runner import explore
    explore.explore(session)             # JupyterLab: widgets (class, speaker, right/wrong, utterance)
    explore.explore(session, interactive=False)  # a static figure of a few utterances (what papermill runs get)
    tab = explore.utterances(session)    # id, label, speaker, fold, <model> (prediction) per test utterance

Predictions come from the study's `results_dir/predictions/{unimodal,fusion}.csv` (notebooks 02 and
03 write them); a model's prediction is the argmax of its class probabilities averaged over seeds.
The matchmap is recomputed from the fusion checkpoint of the utterance's fold (first seed).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mmlib.figures import plots

PREDICTION_FILES = ("unimodal", "fusion")


def predictions(session) -> pd.DataFrame:
    """Every test prediction the notebooks saved (one row per utterance x model x seed)."""
    names = [n for n in PREDICTION_FILES if (Path(session.results_dir) / "predictions" / f"{n}.csv").exists()]
    if not names:
        raise FileNotFoundError(f"no predictions in {Path(session.results_dir) / 'predictions'}: run notebooks 02 and "
                                "03 with this results_dir first")
    return session.load_predictions(*names)


def probabilities(pred: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """(utterance, model) -> class probabilities averaged over seeds, the argmax as `pred`, and `true`."""
    cols = [f"p_{c}" for c in classes]
    mean = pred.groupby(["id", "model"], sort=False).agg({**{c: "mean" for c in cols}, "true": "first"})
    mean["pred"] = np.array(classes)[mean[cols].to_numpy().argmax(axis=1)]
    return mean


def utterances(session, pred: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per test utterance: id, label, speaker, fold and each model's prediction (a column per
    model, in the study's order), plus `n_wrong`, the number of models that got it wrong."""
    pred = predictions(session) if pred is None else pred
    probs = probabilities(pred, session.classes)
    wide = probs["pred"].unstack("model")
    models = plots.model_order(wide.columns)
    meta = session.table.set_index("id").loc[wide.index, ["label", "speaker"]]
    fold = pred.groupby("id")["fold"].first()
    out = pd.concat([meta, fold.loc[wide.index], wide[models]], axis=1).reset_index(names="id")
    out["n_wrong"] = (out[models].to_numpy() != out[["label"]].to_numpy()).sum(axis=1)
    return out.sort_values("id", ignore_index=True)


def _prob_bars(ax, probs: pd.DataFrame, uid: str, classes: list[str]) -> None:
    """Grouped bars: each model's probability of each class for one utterance; true class in bold."""
    rows = probs.loc[uid]
    models = plots.model_order(rows.index)
    colors = plots.model_palette(models)
    width = 0.8 / len(models)
    for k, m in enumerate(models):
        ax.bar(np.arange(len(classes)) + (k - (len(models) - 1) / 2) * width, rows.loc[m, [f"p_{c}" for c in classes]],
               width, color=colors[m], label=f"{m} → {rows.loc[m, 'pred']}")
    true = rows["true"].iloc[0]
    ax.set_xticks(range(len(classes)), classes)
    for t in ax.get_xticklabels():
        t.set_fontweight("bold" if t.get_text() == true else "normal")
    ax.set(ylim=(0, 1), ylabel="probability")


def static_figure(session, uids: list[str], pred: pd.DataFrame | None = None) -> plt.Figure:
    """A few utterances, one row each: log-mel, the middle face frame, every model's probabilities."""
    pred = predictions(session) if pred is None else pred
    probs = probabilities(pred, session.classes)
    table = session.table.set_index("id")
    fig, axes = plt.subplots(len(uids), 3, figsize=(plots.PAGE, 0.3 + 1.6 * len(uids)), squeeze=False,
                             layout="constrained", gridspec_kw={"width_ratios": [2.2, 0.8, 2.2]})
    for r, uid in enumerate(uids):
        spec, frames = session.feats.audio[uid][0], session.feats.video[uid]
        frames = frames[0] if frames.ndim == 5 else frames  # chunked: the first chunk's frames
        dur = spec.shape[-1] * session.cfg.audio.hop_ms / 1000
        axes[r, 0].imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=(0, dur, 0, spec.shape[0]))
        axes[r, 0].set(yticks=[], ylabel="log-mel", xlabel="time (s)" if r == len(uids) - 1 else "")
        axes[r, 0].grid(False)
        axes[r, 0].set_title(f"{uid} · {table.at[uid, 'label']} · {table.at[uid, 'speaker']}", loc="left")
        axes[r, 1].imshow(frames[len(frames) // 2])
        axes[r, 1].set_axis_off()
        _prob_bars(axes[r, 2], probs, uid, session.classes)
        axes[r, 2].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), title="prediction")
    return fig


def pick(tab: pd.DataFrame, n: int = 3) -> list[str]:
    """A few telling utterances: one every model gets right, the one most models get wrong, one in between."""
    order = tab.sort_values(["n_wrong", "id"])
    chosen = [order["id"].iloc[0], order["id"].iloc[-1]]
    middle = order[~order["id"].isin(chosen)]
    if len(middle):
        chosen.insert(1, middle["id"].iloc[len(middle) // 2])
    return list(dict.fromkeys(chosen))[:n]


def in_jupyterlab() -> bool:
    """Whether this kernel has a live frontend for widgets (Jupyter server sets JPY_SESSION_NAME; papermill
    and nbclient do not)."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None and bool(os.environ.get("JPY_SESSION_NAME"))


def explore(session, head: str = "matchmap", interactive: bool | None = None):
    """Widgets to pick a test utterance and see everything about it (interactive: returns the widget box,
    which the notebook displays), else a static figure of a few utterances (drawn; returns None, so the
    notebook shows it once)."""
    pred = predictions(session)
    tab = utterances(session, pred)
    if not (in_jupyterlab() if interactive is None else interactive):
        static_figure(session, pick(tab), pred)
        return None
    return _widget(session, head, pred, tab)


def _widget(session, head: str, pred: pd.DataFrame, tab: pd.DataFrame):
    import ipywidgets as w
    from IPython.display import Audio, display

    from mmlib.data import media
    from mmlib.runner import views

    probs = probabilities(pred, session.classes)
    models = [c for c in tab.columns if c not in ("id", "label", "speaker", "fold", "n_wrong")]
    cls = w.Dropdown(options=["any"] + session.classes, description="class")
    spk = w.Dropdown(options=["any"] + sorted(tab["speaker"].unique()), description="speaker")
    judge = w.Dropdown(options=models, value=head if head in models else models[-1], description="judged by")
    outcome = w.ToggleButtons(options=["any", "correct", "wrong"], description="outcome",
                              style={"button_width": "80px"})
    utt = w.Dropdown(description="utterance", layout=w.Layout(width="60%"))
    out = w.Output()

    def refilter(_=None):
        t = tab
        if cls.value != "any":
            t = t[t["label"] == cls.value]
        if spk.value != "any":
            t = t[t["speaker"] == spk.value]
        if outcome.value != "any":
            right = t[judge.value] == t["label"]
            t = t[right if outcome.value == "correct" else ~right]
        current = utt.value
        utt.options = [(f"{r.id} · {r.label} · {r.speaker} · {r.n_wrong} wrong", r.id) for r in t.itertuples()]
        if len(t):  # keep the shown utterance when it still matches, else show the first that does
            utt.value = current if current in set(t["id"]) else t["id"].iloc[0]
        else:
            out.clear_output()
            with out:
                print("no test utterance matches these filters")

    def show(_=None):
        if utt.value is None:
            return
        uid = utt.value
        row = session.table.set_index("id").loc[uid]
        out.clear_output(wait=True)
        with out:
            sr = session.cfg.audio.sample_rate
            display(Audio(media.read_audio(row["audio_path"], sr), rate=sr))
            display(probs.loc[uid].loc[plots.model_order(probs.loc[uid].index)].round(3))
            fig, ax = plt.subplots(figsize=(plots.COLUMN * 1.5, 2.0), layout="constrained")
            _prob_bars(ax, probs, uid, session.classes)
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), title="prediction")
            plt.show()
            plots.examples(*views.examples_of(session, [uid]))  # log-mel and face frames
            plt.show()
            item = views.matchmap_item(session, uid, head)
            if item is None:
                print(f"no trained {head} checkpoint for this utterance's fold: run notebook 03 first")
            else:
                plots.matchmap_heatmaps([item])
                plt.show()

    for control in (cls, spk, judge, outcome):
        control.observe(refilter, names="value")
    utt.observe(show, names="value")
    refilter()
    box = w.VBox([w.HBox([cls, spk]), w.HBox([judge, outcome]), utt, out])  # refilter() above showed the first
    box.refilter, box.show, box.utterance = refilter, show, utt  # for tests and scripting
    return box
