"""Encoders and fusion heads: shapes, exact output lengths, clear errors, and that each head can learn.

    .venv/bin/python -m pytest -q tests/test_models.py
"""

import os

import pytest
import torch
import torch.nn.functional as F

from mmlib.models import HEADS, AudioCNN, EmotionModel, build_model, build_video_encoder
from mmlib.models.video import weights_path

torch.set_num_threads(1)

DIM = 16
SMALL = dict(audio_width=1.0, video_arch="narrow", video_width=4, dim=DIM, pool_hw=2, audio_frames=300)


def batch(B: int = 4, T: int = 300, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(B, 3, 40, T, generator=g)
    video = torch.randn(B, 3, 8, 32, 32, generator=g)
    lengths = torch.tensor([T, T - 37, T // 2, 150, 300, 299, 90, 200][:B]).clamp(max=T)
    return audio, video, lengths


# --- audio -------------------------------------------------------------------------------------


def test_audio_paper_shape_and_lengths():
    net = AudioCNN()  # n_mels 40, 512 channels: (3, 40, 300) -> (512, 10) as in the paper
    assert net.output_length(300).item() == 10
    assert net.output_length(torch.tensor([300, 301, 160, 1])).tolist() == [10, 10, 1, 1]
    net = AudioCNN(width=0.125, out_dim=32)
    A, L = net(torch.randn(2, 3, 40, 300))
    assert A.shape == (2, 32, 10) and L.tolist() == [10, 10]


def test_audio_padded_items_equal_items_alone():
    torch.manual_seed(0)
    net = AudioCNN(width=0.25, out_dim=32, final_kernel=3).eval()
    lengths = torch.tensor([200, 173, 64, 9, 1])
    x = torch.randn(5, 3, 40, 200)
    for b, n in enumerate(lengths):
        x[b, :, :, n:] = 1e3  # garbage in the padding
    with torch.no_grad():
        A, L = net(x, lengths)
        assert L.tolist() == net.output_length(lengths).tolist()
        for b, n in enumerate(lengths):
            alone, L_alone = net(x[b : b + 1, :, :, :n])
            assert alone.shape[-1] == L_alone.item() == L[b].item()  # true output length
            assert torch.allclose(A[b, :, : L[b]], alone[0], atol=1e-5)  # every valid frame, edges included
            assert (A[b, :, L[b] :] == 0).all()  # padded output frames are zero


def test_audio_short_input_and_odd_kernels():
    net = AudioCNN(width=0.25, out_dim=16)
    A, L = net(torch.randn(2, 3, 40, 20), torch.tensor([20, 5]))
    assert A.shape == (2, 16, 1) and L.tolist() == [1, 1]
    with pytest.raises(ValueError, match="odd"):
        AudioCNN(kernels=(10, 17))


# --- video -------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["mc3_18", "r3d_18", "r2plus1d_18"])
def test_torchvision_archs_shapes(arch):
    torch.manual_seed(0)
    clip = torch.randn(2, 3, 4, 32, 32)
    net = build_video_encoder(arch, out_dim=64, pool_hw=2)
    with torch.no_grad():
        assert net(clip).shape == (2, 64, 2, 2)  # (B, D, H, W), time averaged away
        net = build_video_encoder(arch, out_dim=512, pool_hw=None, keep_time=True)
        T_v = 4 if arch == "mc3_18" else 1  # mc3 keeps time after the first stage
        assert net(clip).shape == (2, 512, T_v, 2, 2)  # 32 px -> 2 x 2 after the trunk
        assert isinstance(net.proj, torch.nn.Identity)


@pytest.mark.parametrize("style", ["mc3", "r3d", "r2plus1d"])
def test_narrow_shapes(style):
    net = build_video_encoder("narrow", out_dim=DIM, width=4, pool_hw=2, keep_time=True, narrow_style=style)
    clip = torch.randn(2, 3, 8, 32, 32)
    T_v = 8 if style == "mc3" else 1
    assert net(clip).shape == (2, DIM, T_v, 2, 2)
    net = build_video_encoder("narrow", out_dim=DIM, width=4, pool_hw=7)
    assert net(torch.randn(1, 3, 8, 112, 112)).shape == (1, DIM, 7, 7)
    assert sum(p.numel() for p in net.parameters()) < 100_000
    net = build_video_encoder("narrow", out_dim=DIM, width=4, pool_hw=4, narrow_downsample=8)
    assert net(clip).shape == (2, DIM, 4, 4)  # 32 px / 8: four distinct cells a side


def test_pooling_never_upsamples_video_positions():
    net = build_video_encoder("narrow", out_dim=DIM, width=4, pool_hw=4)  # 32 px / 16 = 2 x 2 cells
    with pytest.raises(ValueError, match=r"ends at 2 x 2 cells but pool_hw = 4: pooling would upsample"):
        net(torch.randn(1, 3, 4, 32, 32))


@pytest.mark.parametrize("profile", ["quick", "default", "paper", "ravdess", "cremad"])
def test_no_profile_repeats_matchmap_video_positions(profile):
    from mmlib.config import load_config
    from mmlib.models.factory import make_model

    cfg = load_config(profile)
    torch.manual_seed(0)
    enc = make_model(cfg, "video").video_encoder.eval()
    v = cfg.video
    with torch.no_grad():
        cells = enc.trunk(torch.randn(1, 3, v.n_frames, v.size, v.size))
        V = enc(torch.randn(1, 3, v.n_frames, v.size, v.size))  # (1, D, P, P)
    assert cells.shape[-1] >= cfg.model.pool_hw and cells.shape[-2] >= cfg.model.pool_hw
    P = V.flatten(2)[0].T  # (positions, D)
    assert P.shape[0] == cfg.model.pool_hw ** 2
    dist = torch.cdist(P, P) + torch.eye(len(P)) * 1e9
    assert dist.min() > 1e-4, f"{profile}: two matchmap video positions are identical"


def test_video_bad_arch():
    with pytest.raises(ValueError, match="arch"):
        build_video_encoder("resnet50")
    with pytest.raises(ValueError, match="pretrained"):
        build_video_encoder("narrow", pretrained=True)


@pytest.fixture
def hub_dir(tmp_path):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    yield tmp_path
    torch.hub.set_dir(old)


def test_pretrained_offline_missing_file_then_local_file(hub_dir):
    path = weights_path("mc3_18")
    assert path == os.path.join(str(hub_dir), "checkpoints", "mc3_18-a90a0ba3.pth")
    with pytest.raises(RuntimeError, match="mc3_18-a90a0ba3.pth"):
        build_video_encoder("mc3_18", pretrained=True)
    # a file in the cache is loaded, not downloaded
    from torchvision.models.video import mc3_18

    torch.manual_seed(1)
    state = mc3_18(weights=None).state_dict()
    os.makedirs(os.path.dirname(path))
    torch.save(state, path)
    net = build_video_encoder("mc3_18", pretrained=True)
    assert torch.equal(net.trunk[0][0].weight, state["stem.0.weight"])
    assert torch.equal(net.trunk[4][1].conv2[0].weight, state["layer4.1.conv2.0.weight"])


# --- fusion ------------------------------------------------------------------------------------


@pytest.mark.parametrize("keep_time", [False, True])
@pytest.mark.parametrize("head", HEADS)
def test_head_output_shapes(head, keep_time):
    if head == "matchmap" and keep_time:
        with pytest.raises(ValueError, match="fixed sizes"):
            build_model(head, 4, **SMALL, keep_time=True)
        return
    torch.manual_seed(0)
    model = build_model(head, 4, **SMALL, keep_time=keep_time, aux_heads=True, vad_head=True)
    audio, video, lengths = batch()
    out = model(audio if head != "video" else None, video if head != "audio" else None, lengths)
    assert out["logits"].shape == (4, 4) and out["vad"].shape == (4, 3)
    if head != "video":
        assert out["A"].shape == (4, DIM, 10) and out["audio_mask"].dtype == torch.bool
        assert out["audio_mask"].sum(1).tolist() == model.audio_encoder.output_length(lengths).tolist()
        assert out["aux_audio_logits"].shape == (4, 4)
    else:
        assert model.audio_encoder is None and "A" not in out
    if head != "audio":
        assert out["V"].shape == ((4, DIM, 8, 2, 2) if keep_time else (4, DIM, 2, 2))
        assert out["aux_video_logits"].shape == (4, 4)
    else:
        assert model.video_encoder is None and "V" not in out


def test_matchmap_head_needs_its_fixed_length():
    model = build_model("matchmap", 4, **SMALL)
    assert model.classifier.in_features == 4 * 10  # P = 2 x 2 positions, T_a = 10
    audio, video, _ = batch(T=300)
    model(audio[:2], video[:2])
    with pytest.raises(ValueError, match="10 audio frames"):
        model(audio[:2, :, :, :200], video[:2])
    with pytest.raises(ValueError, match="fixed sizes"):
        build_model("matchmap", 4, **{**SMALL, "audio_frames": None})


def test_matchmap_attn_takes_any_length_and_ignores_padding():
    torch.manual_seed(0)
    model = build_model("matchmap_attn", 4, **SMALL).eval()
    audio, video, lengths = batch(B=2, T=200)
    with torch.no_grad():
        out = model(audio, video, lengths)
        alone = model(audio[1:, :, :, : lengths[1]], video[1:])
    assert out["A"].shape[-1] == 4 and out["audio_mask"].sum(1).tolist() == [4, 2]  # 200, 163 frames
    assert torch.allclose(out["logits"][1], alone["logits"][0], atol=1e-5)


def test_missing_modality_and_bad_head():
    with pytest.raises(ValueError, match="needs audio"):
        build_model("concat", 4, **SMALL)(None, batch()[1])
    with pytest.raises(ValueError, match="head"):
        build_model("late", 4, **SMALL)
    with pytest.raises(ValueError, match="needs an audio and a video encoder"):
        EmotionModel("concat", 4)


@pytest.mark.parametrize("head", HEADS)
def test_each_head_learns_random_labels(head):
    torch.manual_seed(0)
    model = build_model(head, 4, **SMALL, aux_heads=True)
    audio, video, lengths = batch(B=8, T=300, seed=1)
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        out = model(audio, video, lengths)
        loss = F.cross_entropy(out["logits"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
