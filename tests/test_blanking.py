"""mmlib.data.blanking: modality dropout and test-time blanking on hand-made batches."""

import pytest
import torch

from mmlib.data.blanking import blank, modality_dropout


def _batch(n: int) -> dict:
    # every value is item index + 1 (never 0), so a zeroed item is unambiguous
    audio = (torch.arange(n, dtype=torch.float32) + 1).view(n, 1, 1, 1).expand(n, 3, 4, 5).clone()
    video = (torch.arange(n, dtype=torch.float32) + 1).view(n, 1, 1, 1, 1).expand(n, 3, 2, 4, 4).clone()
    return {"audio": audio, "video": video, "audio_lengths": torch.full((n,), 5), "label": torch.zeros(n, dtype=torch.long)}


def _zeroed(x: torch.Tensor) -> torch.Tensor:
    return (x.flatten(1) == 0).all(1)


def test_dropout_blanks_the_asked_fraction_never_both_and_only_whole_items():
    b = _batch(20000)
    out = modality_dropout(b, 0.3, torch.Generator().manual_seed(0))
    za, zv = _zeroed(out["audio"]), _zeroed(out["video"])
    assert not (za & zv).any()  # never both streams of an item
    assert abs((za | zv).float().mean().item() - 0.3) < 0.01
    assert abs(za.float().mean().item() - 0.15) < 0.01 and abs(zv.float().mean().item() - 0.15) < 0.01
    kept = ~za
    assert torch.equal(out["audio"][kept], b["audio"][kept])  # untouched items keep their values
    assert not (out["audio"].flatten(1) == 0).any(1)[kept].any()  # no partial blanking
    assert torch.equal(b["audio"][:, 0, 0, 0], torch.arange(20000, dtype=torch.float32) + 1)  # input intact
    assert out["audio_lengths"] is b["audio_lengths"] and out["label"] is b["label"]


def test_dropout_is_deterministic_by_seed():
    b = _batch(64)
    one = modality_dropout(b, 0.5, torch.Generator().manual_seed(7))
    two = modality_dropout(b, 0.5, torch.Generator().manual_seed(7))
    other = modality_dropout(b, 0.5, torch.Generator().manual_seed(8))
    assert torch.equal(one["audio"], two["audio"]) and torch.equal(one["video"], two["video"])
    assert not (torch.equal(_zeroed(one["audio"]), _zeroed(other["audio"]))
                and torch.equal(_zeroed(one["video"]), _zeroed(other["video"])))  # another seed, other items
    # the same draws by hand: rand(B) < p, then randint(0, 2) picks audio (0) or video (1)
    g = torch.Generator().manual_seed(7)
    drop, which = torch.rand(64, generator=g) < 0.5, torch.randint(0, 2, (64,), generator=g)
    assert torch.equal(_zeroed(one["audio"]), drop & (which == 0))
    assert torch.equal(_zeroed(one["video"]), drop & (which == 1))


def test_dropout_edge_cases():
    b = _batch(8)
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    assert modality_dropout(b, 0.0, g) is b and torch.equal(g.get_state(), state)  # p = 0: no draws
    uni = {"audio": b["audio"], "label": b["label"]}
    assert modality_dropout(uni, 0.9, g) is uni  # one stream: nothing to drop
    out = modality_dropout(b, 1.0, torch.Generator().manual_seed(0))
    assert (_zeroed(out["audio"]) ^ _zeroed(out["video"])).all()  # p = 1: exactly one stream of every item
    with pytest.raises(ValueError, match=r"train.modality_dropout must lie in \[0, 1\], got 1.5"):
        modality_dropout(b, 1.5, g)


def test_blank_zeroes_one_stream_of_every_item():
    b = _batch(4)
    out = blank(b, "video")
    assert _zeroed(out["video"]).all() and torch.equal(out["audio"], b["audio"])
    assert not _zeroed(b["video"]).any()  # input intact
    assert blank(b, None) is b
    with pytest.raises(ValueError, match="modality must be one of"):
        blank(b, "text")
    with pytest.raises(KeyError, match="no 'video' stream"):
        blank({"audio": b["audio"]}, "video")
