"""The corpus loaders by dataset name, and the table of whichever corpus a config names.

    from mmlib.config import load_config
    from mmlib.data.loaders import LOADERS, load_table, prepare_corpus, synthetic_dir
    cfg = load_config("quick")
    table = prepare_corpus(cfg)                     # a StudyConfig: generates the synthetic corpus if missing
    table = load_table(cfg.data, synthetic_dir(cfg) / "IEMOCAP_full_release")   # a DataConfig: nothing generated
    table = LOADERS["ravdess"]("/data/RAVDESS", label_set="ravdess8")   # one loader by hand

Each loader takes (root, label_set=...) and returns the utterance table of mmlib.data.corpus (the
contract: COLUMNS, label sets, validate_table); this module only picks one. The synthetic corpus
has IEMOCAP's layout, so it is read by the IEMOCAP loader and marked dataset "synthetic".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mmlib.config import stable_hash
from mmlib.config.provenance import source_hash
from mmlib.data import cremad, iemocap, ravdess


def _load_synthetic(root: str | Path, label_set: str = "4class") -> pd.DataFrame:
    """The synthetic corpus (IEMOCAP's layout), its rows marked dataset "synthetic"."""
    table = iemocap.load_corpus(root, label_set=label_set)
    table["dataset"] = "synthetic"
    return table


# dataset name (data.dataset) -> loader(root, label_set=...) -> utterance table
LOADERS = {
    "synthetic": _load_synthetic,
    "iemocap": iemocap.load_corpus,
    "ravdess": ravdess.load_corpus,
    "cremad": cremad.load_corpus,
}


def load_table(data_cfg, synth_root: str | Path | None = None) -> pd.DataFrame:
    """The utterance table of the corpus `data_cfg` names (a DataConfig); `synth_root` is the synthetic
    corpus's IEMOCAP_full_release when data.dataset is "synthetic" and data.root is None."""
    name = data_cfg.dataset
    root = data_cfg.root
    if name not in LOADERS:
        names = list(LOADERS)
        raise ValueError(f"unknown dataset {name!r}; choose {', '.join(names[:-1])} or {names[-1]}")
    if root is None:
        if name == "iemocap":
            raise ValueError("data.dataset='iemocap' needs data.root: the path of IEMOCAP_full_release")
        if name != "synthetic":
            raise ValueError(f"data.dataset={name!r} needs data.root: the folder of the downloaded corpus")
        root = synth_root
    return LOADERS[name](root, label_set=data_cfg.label_set)


def synthetic_dir(cfg) -> Path:
    """Where the synthetic corpus of a StudyConfig lives: keyed by its synth section and the generator's
    source, so editing the generator regenerates the corpus."""
    return Path(cfg.data.data_dir) / f"synthetic-{stable_hash([cfg.hash('synth'), source_hash('data/synthetic')])}"


def prepare_corpus(cfg, progress: bool = True) -> pd.DataFrame:
    """The utterance table of the config's corpus, generating the synthetic one first if missing."""
    synth_root = None
    if cfg.data.dataset == "synthetic" and cfg.data.root is None:
        from mmlib.data.synthetic import generate_corpus  # OpenCV and the renderers: only when generating

        out = synthetic_dir(cfg)
        synth_root = out / "IEMOCAP_full_release"
        if not synth_root.is_dir():
            synth_root = generate_corpus(out, cfg.synth, progress=progress)
    return load_table(cfg.data, synth_root)
