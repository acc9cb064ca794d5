"""Speaker-independent folds over the utterance table.

    from mmlib.data.splits import make_folds
    folds = make_folds(table, "loso5")        # list of Fold(number, train, val, test) of utterance ids
    folds[0].test_speakers                    # ('Ses01_F', 'Ses01_M')

Protocols (all computed from sorted session and speaker ids, never from directory order):
- loso5: leave one session out. Fold k tests on session k; its validation set is one speaker of the
  next session (k mod 5 + 1), female on odd folds and male on even ones; the rest is training.
- session_speaker10 (the authors'): fold k <= 5 holds out session k, validation = its female
  speaker, test = its male speaker; folds 6-10 swap the two. Training = the other four sessions.
- ravdess6_lit / cremad5_lit: the speaker-independent folds of the audio-visual literature (HiCMAE,
  Information Fusion 2024, and its followers), blocks of consecutive actor numbers: RAVDESS 01-04,
  05-08, ..., 21-24; CREMA-D 1001-1018, 1019-1036, 1037-1054, 1055-1072, 1073-1091. Fold i tests on
  block i; the papers have no validation set, so the validation actors are block i+1 (cyclic), taken
  from the training actors (they train on the other 20 RAVDESS / ~73 CREMA-D actors, this on 16 / ~55).
- actor_k: corpora without sessions (RAVDESS, CREMA-D): sorted speakers are dealt into k groups
  round-robin; fold i tests on group i, validates on group i+1, trains on the rest.
No speaker ever appears in two parts of a fold; `check_folds` asserts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

# literature protocol -> test blocks as inclusive ranges of actor numbers (the digits of the speaker id)
LITERATURE: dict[str, tuple[tuple[int, int], ...]] = {
    "ravdess6_lit": ((1, 4), (5, 8), (9, 12), (13, 16), (17, 20), (21, 24)),
    "cremad5_lit": ((1001, 1018), (1019, 1036), (1037, 1054), (1055, 1072), (1073, 1091)),
}
PROTOCOLS = ("loso5", "session_speaker10", *LITERATURE, "actor5", "actor6", "actor10")


@dataclass(frozen=True)
class Fold:
    number: int  # 1-based
    train: tuple[str, ...]  # utterance ids
    val: tuple[str, ...]
    test: tuple[str, ...]
    train_speakers: tuple[str, ...]
    val_speakers: tuple[str, ...]
    test_speakers: tuple[str, ...]

    def part(self, name: str) -> tuple[str, ...]:
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def _fold(number: int, table: pd.DataFrame, val_spk: list[str], test_spk: list[str]) -> Fold:
    spk = table["speaker"]
    val_mask, test_mask = spk.isin(val_spk), spk.isin(test_spk)
    train_mask = ~(val_mask | test_mask)
    ids = lambda m: tuple(sorted(table.loc[m, "id"]))  # noqa: E731
    spks = lambda m: tuple(sorted(set(table.loc[m, "speaker"])))  # noqa: E731
    return Fold(number, ids(train_mask), ids(val_mask), ids(test_mask), spks(train_mask), spks(val_mask), spks(test_mask))


def _speakers_of(table: pd.DataFrame, session: int) -> dict[str, str]:
    """gender -> speaker id of one session (exactly one F and one M expected)."""
    sub = table[table["session"] == session][["speaker", "gender"]].drop_duplicates()
    by_gender = {g: sorted(s["speaker"]) for g, s in sub.groupby("gender")}
    if sorted(by_gender) != ["F", "M"] or any(len(v) != 1 for v in by_gender.values()):
        raise ValueError(f"session {session} must have exactly one female and one male speaker, found {by_gender}")
    return {g: v[0] for g, v in by_gender.items()}


def make_folds(table: pd.DataFrame, protocol: str = "loso5") -> list[Fold]:
    """The folds of `protocol` over the (labelled) utterance table."""
    sessions = sorted(int(s) for s in table["session"].unique())
    folds: list[Fold] = []
    if protocol in ("loso5", "session_speaker10"):
        if len(sessions) < 2:
            raise ValueError(f"protocol {protocol} needs at least 2 sessions, the table has {sessions}")
        if protocol == "loso5":
            for k, s in enumerate(sessions, start=1):
                nxt = sessions[k % len(sessions)]
                val_gender = "F" if k % 2 == 1 else "M"
                val_spk = [_speakers_of(table, nxt)[val_gender]]
                test_spk = sorted(table.loc[table["session"] == s, "speaker"].unique())
                folds.append(_fold(k, table, val_spk, test_spk))
        else:
            for swap in (False, True):
                for s in sessions:
                    spk = _speakers_of(table, s)
                    val_g, test_g = ("M", "F") if swap else ("F", "M")
                    folds.append(_fold(len(folds) + 1, table, [spk[val_g]], [spk[test_g]]))
    elif protocol in LITERATURE:
        blocks = literature_blocks(table, protocol)
        for i in range(len(blocks)):
            folds.append(_fold(i + 1, table, blocks[(i + 1) % len(blocks)], blocks[i]))
    elif protocol.startswith("actor") and protocol[5:].isdigit():
        k = int(protocol[5:])
        speakers = sorted(table["speaker"].unique(), key=_natural_key)
        if len(speakers) < k + 1:
            raise ValueError(f"protocol {protocol} needs more than {k} speakers, the table has {len(speakers)}")
        groups = [speakers[i::k] for i in range(k)]
        for i in range(k):
            folds.append(_fold(i + 1, table, groups[(i + 1) % k], groups[i]))
    else:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")
    check_folds(folds)
    return folds


def literature_blocks(table: pd.DataFrame, protocol: str) -> list[list[str]]:
    """The speakers of each test block of a literature protocol; a speaker outside every block is an error."""
    ranges = LITERATURE[protocol]
    blocks: list[list[str]] = [[] for _ in ranges]
    for spk in sorted(table["speaker"].unique(), key=_natural_key):
        digits = re.findall(r"\d+", str(spk))
        number = int(digits[-1]) if digits else None
        hit = [i for i, (lo, hi) in enumerate(ranges) if number is not None and lo <= number <= hi]
        if not hit:
            spans = ", ".join(f"{lo}-{hi}" for lo, hi in ranges)
            raise ValueError(f"protocol {protocol}: speaker {spk!r} is not an actor number in {spans}; "
                             "this protocol is for its own corpus only (choose actor5/actor6/actor10 otherwise)")
        blocks[hit[0]].append(spk)
    empty = [f"{lo}-{hi} (fold {i + 1})" for i, ((lo, hi), b) in enumerate(zip(ranges, blocks)) if not b]
    if empty:
        raise ValueError(f"protocol {protocol}: the table has no actor numbered {', '.join(empty)}; the literature's "
                         "folds need the whole corpus (on a partial copy use actor5/actor6/actor10)")
    return blocks


def _natural_key(s: str):
    return (len(s), s)


def check_folds(folds: list[Fold]) -> None:
    """Raise if a speaker appears in two parts of a fold, or a part is empty."""
    for f in folds:
        parts = {"train": set(f.train_speakers), "val": set(f.val_speakers), "test": set(f.test_speakers)}
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            shared = parts[a] & parts[b]
            if shared:
                raise AssertionError(f"fold {f.number}: speakers {sorted(shared)} are in both {a} and {b}")
        for name in ("train", "val", "test"):
            if not f.part(name):
                raise ValueError(f"fold {f.number}: the {name} part is empty")


def select_folds(folds: list[Fold], numbers) -> list[Fold]:
    """The folds with the given 1-based numbers (all when numbers is None)."""
    if numbers is None:
        return folds
    by_number = {f.number: f for f in folds}
    unknown = [n for n in numbers if n not in by_number]
    if unknown:
        raise ValueError(f"folds {unknown} do not exist; this protocol has folds 1..{len(folds)}")
    return [by_number[n] for n in numbers]
