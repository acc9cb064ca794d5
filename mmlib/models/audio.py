"""DAVEnet-style audio CNN over log-mel spectrograms with deltas, with exact output lengths.

    from mmlib.models.audio import AudioCNN
    net = AudioCNN(n_mels=40, out_dim=512)             # the paper's setting
    A, lengths_a = net(spec, lengths)                   # spec (B, 3, 40, 300) -> A (B, 512, 10), (B,)
    net.output_length(torch.tensor([300, 120]))         # tensor([10, 1])

Layers (the authors' variant of DAVEnet, channels D/8, D/4, D/2, D/2, D for D = out_dim):
    BN(input) -> conv (n_mels x 1) over all bands: (B, C, 1, T), squeezed to (B, C, T)
    4 x [conv 1xK over time (K = 11, 17, 17, 17, "same" padding) -> BN -> ReLU -> maxpool 3/2]
    conv 1 x final_kernel (valid, input right-padded to final_kernel if shorter) -> BN -> ReLU
so T_a = max(ceil^4(T / 2) - final_kernel + 1, 1): 300 frames -> 10, as in the paper.
A "1xK" conv on the (B, C, 1, T) map is a Conv1d on (B, C, T), which is what is used here.

Padding: after every layer the frames past each item's length are set to zero, so a padded item
gives exactly the features it would give alone (zero padding = the convs' own padding, and
after a ReLU a zero never wins a max-pool). That holds in eval mode; in train mode BatchNorm's
batch statistics also see the padded frames.
"""

import torch
import torch.nn as nn
from torch import Tensor


def _mask_time(x: Tensor, lengths: Tensor) -> Tensor:
    """x (B, C, T): zero every frame t >= lengths[b]."""
    keep = torch.arange(x.shape[-1], device=x.device) < lengths[:, None]  # (B, T)
    return x * keep[:, None, :].to(x.dtype)


class AudioCNN(nn.Module):
    def __init__(
        self,
        n_mels: int = 40,
        in_channels: int = 3,
        width: float = 1.0,  # multiplier of the hidden channels (1.0 = the paper)
        out_dim: int = 512,
        kernels: tuple[int, ...] = (11, 17, 17, 17),  # one conv + max-pool per entry
        final_kernel: int = 10,  # the authors' last valid conv (1 x 10)
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        ch = [max(1, round(out_dim * f * width)) for f in (1 / 8, 1 / 4, 1 / 2, 1 / 2)]
        ch = (ch + [out_dim] * len(kernels))[: len(kernels)] + [out_dim]  # last pooled block -> out_dim
        self.final_kernel = final_kernel
        self.in_norm = nn.BatchNorm2d(in_channels)
        self.freq = nn.Sequential(  # (B, C_in, n_mels, T) -> (B, ch0, 1, T)
            nn.Conv2d(in_channels, ch[0], kernel_size=(n_mels, 1)), nn.BatchNorm2d(ch[0]), nn.ReLU()
        )
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(c_in, c_out, k, padding=k // 2), nn.BatchNorm1d(c_out), nn.ReLU())
            for c_in, c_out, k in zip(ch[:-1], ch[1:], kernels)
        )
        self.pool = nn.MaxPool1d(kernel_size=3, stride=2, padding=1)  # T -> ceil(T / 2)
        self.final = nn.Sequential(nn.Conv1d(out_dim, out_dim, final_kernel), nn.BatchNorm1d(out_dim), nn.ReLU())
        self.drop = nn.Dropout1d(dropout)
        for k in kernels:
            if k % 2 == 0:
                raise ValueError(f"time kernels must be odd to keep the length, got {kernels}")

    def output_length(self, lengths: Tensor | int) -> Tensor:
        """Input frames -> output frames, for every item: (B,) -> (B,)."""
        L = torch.as_tensor(lengths)
        for _ in self.blocks:
            L = (L - 1) // 2 + 1  # max-pool k3 s2 p1
        return (L - self.final_kernel + 1).clamp(min=1)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x (B, C_in, n_mels, T), lengths (B,) -> A (B, D, T_a), out_lengths (B,)."""
        B, T = x.shape[0], x.shape[-1]
        L = torch.full((B,), T, device=x.device) if lengths is None else lengths.to(x.device).long()
        h = self.freq(self.in_norm(x)).squeeze(2)  # (B, ch0, T)
        h = _mask_time(h, L)
        for block in self.blocks:
            h = _mask_time(block(h), L)  # (B, c, T)
            h, L = self.pool(h), (L - 1) // 2 + 1  # (B, c, ceil(T / 2))
            h = self.drop(_mask_time(h, L))
        if h.shape[-1] < self.final_kernel:
            h = nn.functional.pad(h, (0, self.final_kernel - h.shape[-1]))  # too short: zero frames
        h = self.final(h)  # (B, D, T_a)
        L = (L - self.final_kernel + 1).clamp(min=1)
        return _mask_time(h, L), L
