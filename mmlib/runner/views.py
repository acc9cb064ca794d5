"""What the figures of the corpus and of single utterances show: the corpus summary, log-mel and face
examples, a waveform with its face frames, and a trained fusion model's matchmap of one utterance.

    from mmlib.runner import views
    views.corpus_summary(session)                 # labelled utterances per session and class
    specs, clips = views.examples_per_class(session)
    item = views.matchmap_item(session, uid)      # for plots.matchmap_heatmaps; None if not trained

`session` is a mmlib.runner.session.Session; nothing here trains or writes.
"""

from __future__ import annotations

import pandas as pd

IEMOCAP_4CLASS = {"neu": 1708, "hap": 1636, "ang": 1103, "sad": 1084}  # docs/background.md#iemocap-counts: 5,531
IEMOCAP_4CLASS_PER_SESSION = {1: 1085, 2: 1023, 3: 1151, 4: 1031, 5: 1241}


def corpus_summary(session) -> pd.DataFrame:
    """Labelled utterances per session and class (plus totals); with IEMOCAP's published counts
    alongside when the corpus is the real IEMOCAP."""
    lab = session.corpus[session.corpus["label"].notna()]
    table = pd.crosstab(lab["session"], lab["label"], margins=True, margins_name="total")
    table = table[[c for c in session.classes if c in table.columns] + ["total"]]
    if session.cfg.data.dataset == "iemocap" and session.cfg.data.label_set == "4class":
        published = pd.Series({**IEMOCAP_4CLASS_PER_SESSION, "total": sum(IEMOCAP_4CLASS.values())})
        table["published_total"] = published.reindex(table.index).to_numpy()
    return table


def examples_of(session, uids: list[str]) -> tuple[dict, dict]:
    """Log-mel and face clip of each utterance, named '<label> (<id>)', for plots.examples."""
    specs, clips = {}, {}
    label = session.table.set_index("id")["label"]
    for uid in uids:
        specs[f"{label[uid]} ({uid})"] = session.feats.audio[uid]
        video = session.feats.video[uid]
        clips[f"{label[uid]} ({uid})"] = video[0] if video.ndim == 5 else video  # chunked: the first chunk's frames
    return specs, clips


def examples_per_class(session, rank: int = 0) -> tuple[dict, dict]:
    """Log-mel and face clip of one utterance per class (the `rank`-th by id), for a figure."""
    table = session.table
    return examples_of(session, [sorted(table.loc[table["label"] == cls, "id"])[rank] for cls in session.classes])


def av_trace(session, uid: str) -> tuple:
    """Waveform and every video frame (speaker's face crop) of one utterance, for the sync figure."""
    import cv2

    from mmlib.data import media

    row = session.table.set_index("id").loc[uid]
    cap = cv2.VideoCapture(row["video_path"])
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    n = max(2, int((row["end"] - row["start"]) * fps))
    v = session.cfg.video
    (frames,) = media.read_clips(row["video_path"], [(row["start"], row["end"])], n, row["video_side"], v.size,
                                 v.crop, v.face_box)
    if isinstance(frames, Exception):
        raise frames
    sr = session.cfg.audio.sample_rate
    return media.read_audio(row["audio_path"], sr), sr, frames, fps


def matchmap_item(session, uid: str, head: str = "matchmap", seed: int | None = None) -> dict | None:
    """The matchmap of one test utterance under the trained `head` of its fold (chunk 0 when audio is
    chunked), as plots.matchmap_heatmaps takes it; None when that model has not been trained."""
    import torch

    from mmlib.data import inputs
    from mmlib.models.matchmap import matchmap

    fold = next((f for f in session.folds if uid in set(f.test)), None)
    if fold is None:
        return None
    spec = session.spec(head, fold, session.cfg.seeds[0] if seed is None else seed)
    try:
        model, _ = session.load_model(spec)
    except FileNotFoundError:
        return None
    ds = inputs.dataset(spec, [uid], session.recordings, session.feats,
                           inputs.normalizer(spec, session.recordings, session.feats))
    batch = next(iter(inputs.loader(ds, spec, batch_size=1)))
    with torch.no_grad():
        out = model(batch["audio"], batch["video"], batch["audio_lengths"])
    M = matchmap(out["V"], out["A"])[0]  # (*P, T_a)
    t_a = int(out["audio_mask"][0].sum())
    video = session.feats.video[uid]
    logmel = session.feats.audio[uid][0]
    label = session.table.set_index("id").at[uid, "label"]
    return {"title": f"{uid}\ntrue {label}, predicted {session.classes[int(out['logits'].argmax())]}",
            "M": M.reshape(-1, M.shape[-1])[:, :t_a].numpy(), "spec": logmel[:, :ds.chunk_frames] if ds.chunk_frames else logmel,
            "frames": video[0] if video.ndim == 5 else video, "hop_s": session.cfg.audio.hop_ms / 1000,
            "fold": fold.number, "seed": spec.seed}


def matchmap_examples(session, head: str = "matchmap", n: int = 3, fold=None,
                      seed: int | None = None) -> list[dict]:
    """Matchmaps of the first test utterance of n classes under a trained fusion model."""
    fold = fold or session.folds[0]
    test = session.table[session.table["id"].isin(fold.test)]
    uids = [sorted(test.loc[test["label"] == c, "id"])[0] for c in session.classes if (test["label"] == c).any()][:n]
    return [matchmap_item(session, uid, head, seed) for uid in uids]
