"""Video encoders: torchvision's ResNet3D family without its classifier, ending in a spatial grid.

    from mmlib.models.video import build_video_encoder
    net = build_video_encoder("mc3_18", out_dim=512, pool_hw=7)   # the paper's setting
    V = net(clip)                      # clip (B, 3, 16, 112, 112) -> V (B, 512, 7, 7)
    net = build_video_encoder("narrow", width=8, out_dim=64, pool_hw=2, keep_time=True)
    V = net(clip)                      # clip (B, 3, 8, 32, 32) -> V (B, 64, 8, 2, 2)

Archs: mc3_18, r3d_18, r2plus1d_18 (torchvision.models.video), and "narrow": the same stem +
4 stages of 2 BasicBlocks, assembled from torchvision's own blocks with channels (w, 2w, 4w, 8w)
so a small clip runs fast on CPU (`narrow_style` picks the mc3 / r3d / r2plus1d convolutions).
The trunk ends in AdaptiveAvgPool3d((1, pool_hw, pool_hw)) (time averaged away), or with
keep_time (T_v, pool_hw, pool_hw); pool_hw=None keeps the trunk's own spatial size. A 1x1x1
convolution projects to out_dim when the trunk's width differs.

pretrained=True loads torchvision's Kinetics-400 weights from the local torch hub cache only
(torch.hub.get_dir()/checkpoints); this never downloads.
"""

import os

import torch
import torch.nn as nn
from torch import Tensor
from torchvision.models import video as tvv
from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D, Conv3DNoTemporal, Conv3DSimple

ARCHS = {  # name -> (constructor, weights enum)
    "mc3_18": (tvv.mc3_18, tvv.MC3_18_Weights),
    "r3d_18": (tvv.r3d_18, tvv.R3D_18_Weights),
    "r2plus1d_18": (tvv.r2plus1d_18, tvv.R2Plus1D_18_Weights),
}
NARROW_CONVS = {  # conv builder of each of the 4 stages, as torchvision's archs use them
    "mc3": [Conv3DSimple] + [Conv3DNoTemporal] * 3,
    "r3d": [Conv3DSimple] * 4,
    "r2plus1d": [Conv2Plus1D] * 4,
}


class VideoEncoder(nn.Module):
    """trunk (B, 3, T, H, W) -> (B, C, T', H', W') -> pool -> 1x1x1 projection -> V."""

    def __init__(self, trunk: nn.Module, trunk_dim: int, out_dim: int, keep_time: bool, pool_hw: int | None,
                 channels_last: bool = True):
        super().__init__()
        self.trunk, self.keep_time = trunk, keep_time
        self.pool = nn.AdaptiveAvgPool3d((None if keep_time else 1, pool_hw, pool_hw))
        self.proj = nn.Identity() if trunk_dim == out_dim else nn.Conv3d(trunk_dim, out_dim, kernel_size=1)
        self.out_dim = out_dim
        # channels-last 3D convolutions: the same function, ~1.5x faster backward through narrow 3D convs with
        # oneDNN on the CPU (benchmarks/bench_training.py --layout), and the layout cuDNN prefers under AMP
        self.layout = torch.channels_last_3d if channels_last else torch.contiguous_format
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                m.to(memory_format=self.layout)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, 3, T, H, W) -> (B, D, H', W'), or (B, D, T', H', W') with keep_time."""
        h = self.trunk(x.contiguous(memory_format=self.layout))  # (B, C, T', h, w)
        want = self.pool.output_size[1]
        if want is not None and (h.shape[-2] < want or h.shape[-1] < want):
            raise ValueError(
                f"the video trunk ends at {h.shape[-2]} x {h.shape[-1]} cells but pool_hw = {want}: pooling would "
                "upsample and repeat video positions in the matchmap; lower model.pool_hw, enlarge video.size "
                "or (narrow) set model.narrow_downsample=8")
        v = self.proj(self.pool(h))  # (B, D, T' or 1, H', W')
        return (v if self.keep_time else v.squeeze(2)).contiguous()


def weights_path(arch: str) -> str:
    """Where torchvision keeps the Kinetics-400 weights of `arch` in the local hub cache."""
    url = ARCHS[arch][1].KINETICS400_V1.url
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))


def _torchvision_trunk(arch: str, pretrained: bool) -> nn.Module:
    model = ARCHS[arch][0](weights=None)
    if pretrained:
        path = weights_path(arch)
        if not os.path.isfile(path):
            url = ARCHS[arch][1].KINETICS400_V1.url
            raise RuntimeError(
                f"pretrained {arch} weights not found: {path} is missing. This code never downloads; "
                f"on a machine with internet run `python -c \"import torchvision; "
                f"torchvision.models.video.{arch}(weights='KINETICS400_V1')\"` or fetch {url}, "
                f"and copy the file to {path}."
            )
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return nn.Sequential(model.stem, model.layer1, model.layer2, model.layer3, model.layer4)


def _narrow_trunk(width: int, style: str, downsample: int = 16) -> nn.Module:
    convs = NARROW_CONVS[style]
    stem = nn.Sequential(  # torchvision's BasicStem with `width` channels
        nn.Conv3d(3, width, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
        nn.BatchNorm3d(width),
        nn.ReLU(inplace=True),
    )
    if downsample not in (8, 16):
        raise ValueError(f"narrow_downsample must be 8 or 16, got {downsample}")
    stages, c_in = [], width
    for k, (conv, planes) in enumerate(zip(convs, [width, 2 * width, 4 * width, 8 * width])):
        stride = 1 if k == 0 or (k == 3 and downsample == 8) else 2  # stem /2, stages 2-4 /2 each (last kept at 8)
        down = None
        if stride != 1 or c_in != planes:  # as VideoResNet._make_layer
            down = nn.Sequential(
                nn.Conv3d(c_in, planes, 1, stride=conv.get_downsample_stride(stride), bias=False),
                nn.BatchNorm3d(planes),
            )
        stages.append(nn.Sequential(BasicBlock(c_in, planes, conv, stride, down), BasicBlock(planes, planes, conv)))
        c_in = planes
    trunk = nn.Sequential(stem, *stages)
    for m in trunk.modules():  # VideoResNet's initialization
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    return trunk


def build_video_encoder(
    arch: str = "mc3_18",
    out_dim: int = 512,
    keep_time: bool = False,
    pool_hw: int | None = 7,
    pretrained: bool = False,
    width: int = 16,  # "narrow" only: channels (w, 2w, 4w, 8w)
    narrow_style: str = "mc3",  # "narrow" only: mc3 | r3d | r2plus1d convolutions
    narrow_downsample: int = 16,  # "narrow" only: 16 (as ResNet3D) or 8 (the last stage keeps its resolution)
    channels_last: bool = True,  # convolutions in channels-last 3D layout (same function, faster)
) -> VideoEncoder:
    if arch == "narrow":
        if pretrained:
            raise ValueError("the narrow video encoder has no pretrained weights")
        if narrow_style not in NARROW_CONVS:
            raise ValueError(f"unknown narrow_style {narrow_style!r}, expected one of {list(NARROW_CONVS)}")
        return VideoEncoder(_narrow_trunk(width, narrow_style, narrow_downsample), 8 * width, out_dim, keep_time, pool_hw,
                            channels_last)
    if arch not in ARCHS:
        raise ValueError(f"unknown video arch {arch!r}, expected one of {[*ARCHS, 'narrow']}")
    return VideoEncoder(_torchvision_trunk(arch, pretrained), 512, out_dim, keep_time, pool_hw, channels_last)
