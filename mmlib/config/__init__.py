"""One typed configuration for the whole study, named profiles, and stable hashes.

    from mmlib.config import load_config
    cfg = load_config("quick", {"train.max_epochs": 3, "model.head": "matchmap"})
    cfg.hash("audio")          # key of everything the audio features depend on

Papermill's parameters cell passes only primitives (a profile name and dotted overrides);
`load_config` builds the typed config from them, so derived values never go stale. Unknown keys
are an error. `StudyConfig.hash(*sections)` is the cache key of an artifact: it covers exactly the
sections that shape it, so changing the video settings never invalidates the audio cache.
The config owns every dataclass it holds, the synthetic corpus's SynthConfig and SYNTH_PROFILES
included (mmlib.data.synthetic re-exports them), and imports no other mmlib module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Optional

EMOTION_CODES = ("neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth", "xxx")


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "synthetic"  # synthetic | iemocap | ravdess | cremad
    root: Optional[str] = None  # corpus root; None = the synthetic corpus under data_dir
    data_dir: str = "data"  # where the synthetic corpus, feature caches and checkpoints live
    label_set: str = "4class"  # 4class: neu, hap (+exc), sad, ang | 6class: neu, hap, exc, sad, ang, fru
    protocol: str = "loso5"  # loso5 | session_speaker10 (the authors') | ravdess6_lit | cremad5_lit | actor<k> (splits.py)
    on_error: str = "raise"  # raise | skip: what bad media does to a run
    speaker_norm: bool = True  # standardize features per speaker (label-free); False = the authors' global
    video_scale: str = "speaker"  # speaker_norm's video: "speaker" divides the de-meaned face by the speaker's residual
    # sd; "unscaled" only subtracts the speaker's mean face (a near-constant face then stays near zero: a diagnosis arm)

    def __post_init__(self) -> None:
        if self.video_scale not in ("speaker", "unscaled"):
            raise ValueError(f"data.video_scale must be 'speaker' or 'unscaled', got {self.video_scale!r}")


# The synthetic corpus's generator settings (mmlib.data.synthetic renders them; see its plan.py).
CODES4 = ("neu", "hap", "exc", "ang", "sad")  # order of SynthConfig.class_counts
OTHER_CODES = ("xxx", "fru", "sur", "fea", "oth", "dis")  # order of SynthConfig.other_counts


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 0  # every random choice derives from (seed, what, dialog)
    n_sessions: int = 5  # IEMOCAP has 5, each with one female and one male actor
    impro_per_session: int = 3  # improvised dialogs per session
    script_per_session: int = 3  # scripted dialogs per session
    turns: tuple[int, int] = (20, 28)  # turns per dialog, inclusive range
    utt_seconds: tuple[float, float] = (1.5, 4.0)  # utterance duration range
    gap_seconds: tuple[float, float] = (0.15, 0.8)  # silence between turns (turns never overlap)
    class_counts: tuple[int, ...] = (1708, 595, 1041, 1103, 1084)  # neu hap exc ang sad: IEMOCAP's
    other_share: float = 0.25  # share of utterances outside the 4-class set (IEMOCAP: 0.45)
    other_counts: tuple[int, ...] = (2507, 1849, 107, 40, 3, 2)  # xxx fru sur fea oth dis: IEMOCAP's
    intensity_beta: tuple[float, float] = (2.5, 1.5)  # intensity = min + (1 - min) * Beta: mean ~0.7
    intensity_min: float = 0.15  # the weakest expressions are nearly neutral
    label_noise: float = 0.1  # P(annotated label != expressed emotion): caps every model's accuracy
    audio_valence_cue: float = 0.15  # valence leaking into the voice, relative to arousal (0 = none)
    video_arousal_cue: float = 0.15  # arousal leaking into the face (brows, eyes), relative to valence
    sample_rate: int = 16000
    fps: int = 15
    frame_size: int = 96  # S: the dialog video is 2S wide x S high, one actor per half
    hidden_files: bool = True  # macOS '._*' debris as in the real release; loaders must skip it
    audio_snr_db: float | None = None  # white noise over every dialog at this SNR; None = clean
    video_blur_sigma: float = 0.0  # Gaussian blur, in pixels at frame size S
    video_occlusion: float = 0.0  # fraction of each half covered, over the lower/middle face
    video_drop_prob: float = 0.0  # probability a frame repeats the previous one
    # how much of the planned emotion each modality shows: 1 = as planned, 0 = none (neutral), linear
    # in between; the other modality's files stay byte-identical when one of them changes
    voice_expressiveness: float = 1.0
    face_expressiveness: float = 1.0
    # how often each modality shows the expressed emotion: at r the expression of a share r of the utterances and,
    # for the others, that of another utterance of the same speaker drawn at random (per utterance, per modality,
    # from the seed): 1 = as planned, 0 = unrelated to the label; the other modality's files stay byte-identical
    # (mmlib.data.synthetic.plan, "Reliability knobs")
    voice_reliability: float = 1.0
    face_reliability: float = 1.0

    def __post_init__(self) -> None:
        for name in ("turns", "utt_seconds", "gap_seconds", "class_counts", "other_counts", "intensity_beta"):
            object.__setattr__(self, name, tuple(getattr(self, name)))  # lists from JSON / overrides
        if len(self.class_counts) != len(CODES4) or len(self.other_counts) != len(OTHER_CODES):
            raise ValueError(f"class_counts needs {CODES4}, other_counts needs {OTHER_CODES}")
        if self.frame_size < 32 or self.frame_size % 8:
            raise ValueError(f"frame_size must be a multiple of 8 and >= 32, got {self.frame_size}")
        if not (0 <= self.other_share < 1 and 0 <= self.label_noise <= 1 and 0 < self.intensity_min <= 1):
            raise ValueError("other_share in [0, 1), label_noise in [0, 1], intensity_min in (0, 1]")
        if self.utt_seconds[0] < 0.5 or self.turns[0] < 2 or self.n_sessions < 1:
            raise ValueError("need utterances >= 0.5 s, >= 2 turns per dialog, >= 1 session")
        for name in ("voice_expressiveness", "face_expressiveness"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"synth.{name} must lie in [0, 1] (1 = as planned, 0 = neutral), "
                                 f"got {getattr(self, name)}")
        for name in ("voice_reliability", "face_reliability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"synth.{name} must lie in [0, 1] (1 = every utterance shows its own emotion, "
                                 f"0 = none does), got {getattr(self, name)}")


SYNTH_PROFILES: dict[str, SynthConfig] = {
    # a few seconds: 5 sessions x 2 dialogs x ~8 turns of 1-2 s, 64-pixel faces
    "quick": SynthConfig(impro_per_session=1, script_per_session=1, turns=(7, 9),
                         utt_seconds=(1.0, 2.0), frame_size=64),
    # a CPU study in minutes: 5 sessions x 6 dialogs x ~24 turns of 1.5-4 s (~720 utterances)
    "default": SynthConfig(),
}


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = 16000
    n_mels: int = 40
    n_fft: int = 512
    win_ms: float = 25.0  # Hamming window, as the authors
    hop_ms: float = 10.0
    fmin: float = 300.0
    fmax: float = 8000.0
    deltas: bool = True  # stack deltas and delta-deltas: 3 input channels
    max_seconds: float = 6.0  # longer utterances are cut (padded mode) to bound memory
    chunk_seconds: Optional[float] = None  # the authors cut/pad into fixed chunks (3.0); None = variable length + mask
    # chunked mode: a remainder chunk shorter than this x chunk_seconds is dropped (the authors: 0.65); 0.0 keeps
    # every remainder. An utterance shorter than that keeps its one padded chunk. Video chunks follow the same rule.
    min_chunk_fraction: float = 0.0
    snr_db: Optional[float] = None  # degrade: add noise at this SNR before the log-mel (robustness runs)


@dataclass(frozen=True)
class VideoConfig:
    n_frames: int = 16  # sampled evenly across the utterance's segment
    size: int = 112  # face crop is resized to size x size
    crop: str = "box"  # box (fixed box) | mtcnn (the authors' detector) | haar (OpenCV; alias detector): see data/faces.py
    face_box: tuple[float, float, float, float] = (0.1, 0.1, 0.9, 0.9)  # x0, y0, x1, y1 relative to the half
    blur_sigma: float = 0.0  # degrade: Gaussian blur of the face crop (robustness runs)
    occlusion: float = 0.0  # degrade: fraction of the face covered
    drop_prob: float = 0.0  # degrade: probability a frame is replaced by the previous one


@dataclass(frozen=True)
class ModelConfig:
    head: str = "matchmap"  # audio | video | concat | matchmap | matchmap_attn
    dim: int = 512  # shared feature size D of both encoders
    audio_width: float = 1.0  # multiplier of the audio CNN's hidden channels (1.0 = the paper's)
    audio_final_kernel: int = 10  # the authors' last valid 1 x 10 conv (300 frames -> 10)
    video_arch: str = "mc3_18"  # mc3_18 | r3d_18 | r2plus1d_18 | narrow
    video_width: int = 64  # narrow only: channels of the first stage
    pool_hw: int = 7  # video feature map is pool_hw x pool_hw, as the authors' AdaptiveAvgPool3d((1,7,7));
    # it may only average the trunk's cells (never upsample): the matchmap's video positions are distinct cells
    narrow_downsample: int = 16  # narrow only: spatial downsampling of the trunk (16 as ResNet3D, 8 keeps 4x4 of 32 px)
    keep_time: bool = False  # keep the video's time axis in the feature map
    pretrained_video: bool = False  # Kinetics weights from the local torch hub cache only
    aux_heads: bool = False  # auxiliary unimodal classifiers on each branch
    vad_head: bool = False  # valence/arousal/dominance regression
    unimodal_path: bool = False  # fusion heads: add Linear(pooled audio) + Linear(pooled video) to the head's logits,
    # so the model can rely on one stream alone (matchmap's bilinear head cannot ignore a stream by itself)


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 32
    lr: float = 1.077e-4
    weight_decay: float = 1.409e-3
    max_epochs: int = 30
    patience: int = 3  # early stopping on the selection criterion (select_on)
    select_on: str = "val_ce"  # val_ce (the authors: validation cross-entropy) | val_ua; never a random quantity
    grad_clip: float = 3.0
    seed: int = 42
    similarity: str = "SIMA"  # SISA | MISA | SIMA: pooling of the matchmap for the ranking loss
    rank_loss: str = "sampled"  # sampled (DAVEnet / authors) | hinge | infonce (full batch)
    rank_weight: float = 0.078  # w in CE + w * ranking (the authors' value)
    rank_heads: tuple[str, ...] = ("matchmap", "matchmap_attn")  # heads trained with the ranking term (the
    # authors: matchmap only); audio, video and concat are trained with cross-entropy alone
    margin: float = 1.0
    impostor_other_label: bool = True  # impostors drawn among samples of a different emotion
    aux_weight: float = 0.0  # weight of the auxiliary unimodal cross-entropies
    vad_weight: float = 0.0  # weight of the VAD regression
    finetune_lr: Optional[float] = None  # learning rate of a fusion model started from unimodal checkpoints
    # (None: train.lr); chosen apart from the from-scratch rate, on validation speakers (mmlib.runner.recipe)
    finetune_patience: Optional[int] = None  # early-stopping patience of such a fine-tuning (None: train.patience)
    modality_dropout: float = 0.0  # P(one stream of a training item is zeroed), fusion heads (data/blanking.py)
    blank: Optional[str] = None  # "audio" | "video": that stream zero-filled in training, validation and test alike
    # (a constant input: the control that asks whether a fusion head is hurt by a stream that carries nothing)
    balance: str = "none"  # none | ogm_ge: OGM-GE (Peng et al. 2022) on-the-fly gradient modulation of fusion heads
    balance_alpha: float = 0.5  # OGM-GE's alpha: the dominant encoder's gradients x (1 - tanh(alpha x (ratio - 1)));
    # not tuned
    init_from_unimodal: bool = True  # fusion encoders start from this fold's unimodal checkpoints
    freeze: Optional[str] = None  # "audio" | "video": a fusion model's encoder of that modality keeps the weights of its
    # unimodal checkpoint (no gradient, BatchNorm statistics fixed): the control that asks whether joint fine-tuning
    # of that pathway, not fusion, moves the score
    continue_unimodal: bool = False  # a unimodal model restarts from its own ordinary checkpoint and trains on with
    # the fusion models' fine-tuning recipe (finetune_lr, finetune_patience): the control for fine-tuning alone
    precision: str = "auto"  # auto = 16-mixed on GPU, 32 on CPU
    devices: Any = "auto"
    accelerator: str = "auto"
    strategy: str = "auto"
    num_workers: int = 0  # DataLoader workers per training (GPU profiles: see RunConfig and README)
    threads: int = 1  # torch threads of one training (CPU); the same under every executor, so results agree

    def __post_init__(self) -> None:
        if self.blank not in (None, "audio", "video"):
            raise ValueError(f"train.blank must be None, 'audio' or 'video', got {self.blank!r}")
        if self.freeze not in (None, "audio", "video"):
            raise ValueError(f"train.freeze must be None, 'audio' or 'video', got {self.freeze!r}")
        if self.balance not in ("none", "ogm_ge"):
            raise ValueError(f"train.balance must be 'none' or 'ogm_ge', got {self.balance!r}")
        if self.balance_alpha < 0:
            raise ValueError(f"train.balance_alpha must be >= 0, got {self.balance_alpha}")


@dataclass(frozen=True)
class RunConfig:
    """Where the trainings of the grid run; never part of a checkpoint's key (it does not shape a model)."""

    executor: str = "ray"  # ray (local Ray, or a cluster with ray_address) | sequential (in-process, debugging)
    ray_address: Optional[str] = None  # None = start a local Ray; "auto" or "host:port" = join a running cluster
    workers: int = 0  # parallel trainings on a local Ray; 0 = as many as cores // train.threads
    gpus_per_training: float = 0.0  # Ray resource request of one training (1.0 on a GPU profile)


@dataclass(frozen=True)
class StudyConfig:
    profile: str = "default"
    data: DataConfig = field(default_factory=DataConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    run: RunConfig = field(default_factory=RunConfig)
    folds: Optional[tuple[int, ...]] = None  # which folds to run (1-based); None = all
    seeds: tuple[int, ...] = (42,)  # training seeds of the study

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StudyConfig":
        """Inverse of to_dict (e.g. the config a checkpoint or manifest recorded)."""
        sections = {f.name: f.type for f in fields(cls)}
        kw = {}
        for key, value in d.items():
            if key not in sections:
                raise KeyError(f"unknown config key {key!r}")
            sub = {"data": DataConfig, "synth": SynthConfig, "audio": AudioConfig, "video": VideoConfig,
                   "model": ModelConfig, "train": TrainConfig, "run": RunConfig}.get(key)
            kw[key] = sub(**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}) if sub else (
                tuple(value) if isinstance(value, list) else value)
        return cls(**kw)

    def hash(self, *sections: str) -> str:
        """Stable 12-hex key of the named sections (all when none given)."""
        d = self.to_dict()
        keys = sections or tuple(sorted(d))
        return stable_hash({k: d[k] for k in keys})

    def with_overrides(self, overrides: dict[str, Any] | None) -> "StudyConfig":
        return apply_overrides(self, overrides or {})


def stable_hash(obj: Any, n: int = 12) -> str:
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def apply_overrides(cfg, overrides: dict[str, Any]):
    """Return a copy of dataclass `cfg` with dotted keys replaced ("train.lr": 1e-3).

    Unknown keys raise a KeyError naming the key and the valid choices; values are coerced to the
    field's type when the field holds a bool/int/float/tuple so CLI strings work too.
    """
    nested: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            top[head] = value
    names = {f.name: f for f in fields(cfg)}
    changes: dict[str, Any] = {}
    for key, value in top.items():
        if key not in names:
            raise KeyError(f"unknown config key {key!r} in {type(cfg).__name__}; valid: {sorted(names)}")
        changes[key] = _coerce(getattr(cfg, key), value, key)
    for head, sub in nested.items():
        if head not in names or not is_dataclass(getattr(cfg, head)):
            raise KeyError(f"unknown config section {head!r}; valid: {sorted(n for n in names if is_dataclass(getattr(cfg, n)))}")
        try:
            changes[head] = apply_overrides(getattr(cfg, head), sub)
        except KeyError as err:
            raise KeyError(f"{head}.{err.args[0]}") from None
    return replace(cfg, **changes)


def _coerce(current: Any, value: Any, key: str) -> Any:
    if isinstance(value, str) and value.lower() in ("none", "null"):
        return None
    if isinstance(value, str):
        if isinstance(current, bool):
            if value.lower() in ("1", "true", "yes"):
                return True
            if value.lower() in ("0", "false", "no"):
                return False
            raise ValueError(f"config key {key!r} expects a bool, got {value!r}")
        if isinstance(current, int) and not isinstance(current, bool):
            return int(value)
        if isinstance(current, float):
            return float(value)
    if isinstance(value, list):
        return tuple(value)
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


# Small inputs and models: a CPU study in minutes (default, ravdess and cremad share them). Sizes and numerics only:
# how a profile trains (its recipe) lives in RECIPES, once per profile.
CPU_SIZES: dict[str, Any] = {
    "video.n_frames": 4,  # for speed (8 frames: every video-bearing training ~1.8x slower); chosen after test-fold
    # video UA had been seen (results/settings_history.csv)
    "video.size": 32,
    "model.dim": 64,
    "model.audio_width": 1.0,
    "model.audio_final_kernel": 3,
    "model.video_arch": "narrow",
    "model.video_width": 8,
    "model.narrow_downsample": 8,  # 32 px faces / 8 = 4 x 4 trunk cells: the matchmap's 16 video positions, none
    "model.pool_hw": 4,  # repeated (the paper's has 7 x 7 = 49 of 112 px faces; 2 x 2 cells, downsampling 16, gave 4
    # until issue 23; benchmarks/bench_training.py --positions times both)
    "train.precision": "bf16-mixed",  # bf16 autocast, fp32 weights: ~0.7x the step time where the CPU has native bf16;
    # kept on validation speakers against fp32 by `mmlib recipe --grid precision` (results/recipe-default-precision/)
}

# The settings that make a training recipe. Each profile writes every one of them exactly once, in RECIPES.
RECIPE_KEYS = ("train.batch_size", "train.lr", "train.weight_decay", "train.max_epochs", "train.patience",
               "train.finetune_lr", "train.finetune_patience")


@dataclass(frozen=True)
class Recipe:
    """How a profile trains, and where that recipe comes from (the manifest and the report print both)."""

    settings: dict[str, Any]  # every key of RECIPE_KEYS
    provenance: str  # "validated: ..." (chosen on validation speakers), "authors: ...", or "unvalidated: ..."
    validated: bool = False  # chosen on validation speakers of this profile's corpus

    def __post_init__(self) -> None:
        if set(self.settings) != set(RECIPE_KEYS):
            raise ValueError(f"a recipe sets exactly {RECIPE_KEYS}; got {sorted(self.settings)}")


_AUTHORS = {key: getattr(TrainConfig(), key.partition(".")[2]) for key in RECIPE_KEYS}  # TrainConfig's defaults
_CPU_UNVALIDATED = {**_AUTHORS, "train.lr": 2e-3, "train.max_epochs": 40}  # max_epochs: a bound, not a budget:
# early stopping ends trainings (tables/convergence.csv)

RECIPES: dict[str, Recipe] = {
    "quick": Recipe({**_AUTHORS, "train.batch_size": 16, "train.lr": 3e-3, "train.max_epochs": 2, "train.patience": 2},
                    "smoke test: two epochs on a tiny corpus, for tests; not a model of anything"),
    # chosen on validation speakers by `mmlib recipe --grid wide` (results/recipe-default-wide/: every setting
    # tried, its validation UA, the criterion; tests/test_recipe.py checks these values against that record)
    "default": Recipe({**_AUTHORS, "train.lr": 5e-4, "train.max_epochs": 40, "train.patience": 8,
                       "train.finetune_lr": 5e-3},
                      "validated: chosen on validation speakers by `mmlib recipe --grid wide` on the 16-position "
                      "bf16 models (results/recipe-default-wide/)",
                      validated=True),
    "paper": Recipe(_AUTHORS, "authors: the published code's settings (AdamW, batch 32, patience 3), not re-chosen"),
    "ravdess": Recipe(_CPU_UNVALIDATED, "unvalidated: the CPU sizes' starting point, never chosen on validation "
                      "for RAVDESS; run `mmlib recipe --profile ravdess` before trusting its scores"),
    "cremad": Recipe(_CPU_UNVALIDATED, "unvalidated: the CPU sizes' starting point, never chosen on validation "
                     "for CREMA-D; run `mmlib recipe --profile cremad` before trusting its scores"),
}

# Named profiles: each is a set of overrides on the defaults above, so the defaults stay readable. What a profile
# trains with is its entry in RECIPES, applied after these (tests/test_config.py: no recipe key appears here).
PROFILES: dict[str, dict[str, Any]] = {
    # Tests and smoke runs: a tiny corpus, tiny inputs, tiny models, one fold, two epochs.
    "quick": {
        "synth": SYNTH_PROFILES["quick"],
        "audio.max_seconds": 3.0,
        "video.n_frames": 4,
        "video.size": 32,
        "model.dim": 32,
        "model.audio_width": 1.0,
        "model.audio_final_kernel": 3,
        "model.video_arch": "narrow",
        "model.video_width": 8,
        "model.pool_hw": 2,
        "folds": (1,),
    },
    # The study on the synthetic corpus, sized to finish in minutes on two CPU cores.
    "default": {
        "synth": SYNTH_PROFILES["default"],
        "audio.max_seconds": 3.0,
        **CPU_SIZES,
        "seeds": (42, 43, 44),  # every table and claim covers three training seeds
    },
    # The authors' settings (docs/background.md) on the real IEMOCAP: 10 folds, 3 s chunks, full-size models.
    "paper": {
        "data.dataset": "iemocap",
        "data.protocol": "session_speaker10",
        "data.speaker_norm": False,
        "audio.chunk_seconds": 3.0,
        "audio.min_chunk_fraction": 0.65,  # the authors drop remainders under 0.65 x 3 s
        "audio.max_seconds": 30.0,
        "video.n_frames": 16,
        "video.size": 112,
        "video.crop": "mtcnn",  # the authors' detector (facenet-pytorch), smoothed, fixed box as fallback
        "model.dim": 512,
        "model.audio_width": 1.0,
        "model.video_arch": "mc3_18",
        "model.pool_hw": 7,
        "run.gpus_per_training": 1.0,  # on a GPU machine each training holds one GPU (0 on a CPU-only Ray)
        "train.num_workers": 4,  # loader processes per training: the GPU must not wait for batches
    },
    # RAVDESS (24 actors, 1,440 speech clips of ~3.5 s, 8 classes), with the model sizes of "default" (a CPU run).
    # ravdess6_lit: the literature's 6 folds of 4 consecutive test actors (01-04, ...), the next 4 validate.
    "ravdess": {
        "data.dataset": "ravdess",
        "data.label_set": "ravdess8",
        "data.protocol": "ravdess6_lit",
        "audio.max_seconds": 4.0,  # RAVDESS clips run ~3.5-4 s, silence included
        "video.crop": "mtcnn",
        "video.face_box": (0.3, 0.1, 0.7, 0.8),  # detector fallback: a centred square of the 16:9 frame
        **CPU_SIZES,
    },
    # CREMA-D (91 actors, 7,438 usable clips of ~2.5 s, 6 classes), same model sizes as "ravdess".
    # cremad5_lit: the literature's 5 folds of consecutive actors (1001-1018, ...), the next block validates.
    "cremad": {
        "data.dataset": "cremad",
        "data.label_set": "cremad6",
        "data.protocol": "cremad5_lit",
        "audio.max_seconds": 3.0,  # most CREMA-D clips are 2-3 s
        "video.crop": "mtcnn",
        "video.face_box": (0.24, 0.1, 0.76, 0.8),  # detector fallback: a centred square of the 4:3 frame
        **CPU_SIZES,
    },
}


def load_config(profile: str = "default", overrides: dict[str, Any] | None = None) -> StudyConfig:
    """The profile's config: its sizes (PROFILES), its recipe (RECIPES), then `overrides` (dotted keys)."""
    if profile not in PROFILES:
        raise KeyError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    base = StudyConfig(profile=profile)
    prof = dict(PROFILES[profile])
    synth = prof.pop("synth", None)
    if synth is not None:
        base = replace(base, synth=synth)
    return base.with_overrides(prof).with_overrides(RECIPES[profile].settings).with_overrides(overrides)
