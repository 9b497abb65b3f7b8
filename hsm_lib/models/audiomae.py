"""AudioMAE: a ViT masked autoencoder on log-mel filterbanks (paper Sec. III-B1).

References: He et al., "Masked Autoencoders Are Scalable Vision Learners" (MAE, 2022);
Huang et al., "Masked Autoencoders that Listen" (AudioMAE, 2022); Yadav et al., MW-MAE (2024)
for the small decoder the paper adopts (4 layers, width 384, 8 heads).

The fbank (frames x 128 mel, normalised as AudioMAE does) is cut into P x P patches in
time-major order: patch ``t * (F / P) + f`` covers frames ``[tP, (t+1)P)`` and mel bins
``[fP, (f+1)P)``. Pretraining hides ``mask_ratio`` of the patches at random, encodes the
visible ones and reconstructs the hidden ones; the loss is the MSE on per-patch normalised
pixels of the hidden patches only. Without masking, the encoder's output is the local
semantic feature S (:meth:`AudioMAE.features`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hsm_lib.models.config import ModelConfig
from hsm_lib.models.layers import Block, init_weights, sincos_2d


@dataclass
class AudioMAEConfig(ModelConfig):
    n_frames: int = 1024        # fbank frames (10 ms); a multiple of `patch`
    n_mels: int = 128           # mel bins; a multiple of `patch`
    patch: int = 16             # P: square patches of P frames x P mel bins
    dim: int = 768              # C_s, the encoder width (ViT-B)
    depth: int = 12             # encoder layers (ViT-B)
    heads: int = 12
    decoder_dim: int = 384      # MW-MAE's small decoder, as in the paper
    decoder_depth: int = 4
    decoder_heads: int = 8
    mask_ratio: float = 0.8     # AudioMAE's pretraining masking ratio
    mlp_ratio: float = 4.0
    norm_pix_loss: bool = True  # targets are patches normalised to zero mean, unit variance

    def __post_init__(self) -> None:
        if self.n_frames % self.patch or self.n_mels % self.patch:
            raise ValueError(f"fbank {self.n_frames} x {self.n_mels} does not tile into {self.patch} x {self.patch} patches")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1), got {self.mask_ratio}")

    @property
    def grid(self) -> tuple[int, int]:
        """(time patches, frequency patches)."""
        return self.n_frames // self.patch, self.n_mels // self.patch

    @property
    def n_patches(self) -> int:
        return self.grid[0] * self.grid[1]


class AudioMAE(nn.Module):
    def __init__(self, cfg: AudioMAEConfig):
        super().__init__()
        self.cfg = cfg
        p, rows, cols = cfg.patch, *cfg.grid
        self.patch_embed = nn.Conv2d(1, cfg.dim, kernel_size=p, stride=p)
        # Fixed 2-D sinusoidal positions, as MAE/AudioMAE use (not learned).
        self.register_buffer("pos", torch.from_numpy(sincos_2d(rows, cols, cfg.dim))[None], persistent=False)
        self.register_buffer("dec_pos", torch.from_numpy(sincos_2d(rows, cols, cfg.decoder_dim))[None], persistent=False)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, mlp_ratio=cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.decoder_embed = nn.Linear(cfg.dim, cfg.decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.decoder_dim))
        self.decoder_blocks = nn.ModuleList(
            Block(cfg.decoder_dim, cfg.decoder_heads, mlp_ratio=cfg.mlp_ratio) for _ in range(cfg.decoder_depth))
        self.decoder_norm = nn.LayerNorm(cfg.decoder_dim)
        self.decoder_pred = nn.Linear(cfg.decoder_dim, p * p)
        init_weights(self)
        w = self.patch_embed.weight.data  # MAE: initialise the patch projection like a linear layer
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.mask_token, std=0.02)

    # --- patches ------------------------------------------------------------------------------

    def patchify(self, fbank: torch.Tensor) -> torch.Tensor:
        """[B, T, F] -> [B, patches, P*P], time-major patch order, each patch row-major (t, f)."""
        p, (rows, cols) = self.cfg.patch, self.cfg.grid
        x = fbank.reshape(fbank.shape[0], rows, p, cols, p)
        return x.permute(0, 1, 3, 2, 4).reshape(fbank.shape[0], rows * cols, p * p)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """[B, patches, P*P] -> [B, T, F]; the inverse of :meth:`patchify`."""
        p, (rows, cols) = self.cfg.patch, self.cfg.grid
        x = patches.reshape(patches.shape[0], rows, cols, p, p).permute(0, 1, 3, 2, 4)
        return x.reshape(patches.shape[0], rows * p, cols * p)

    def _check(self, fbank: torch.Tensor) -> None:
        want = (self.cfg.n_frames, self.cfg.n_mels)
        if fbank.dim() != 3 or tuple(fbank.shape[1:]) != want:
            raise ValueError(f"AudioMAE expects fbank [B, {want[0]}, {want[1]}], got {list(fbank.shape)}")

    # --- encoder ------------------------------------------------------------------------------

    def embed(self, fbank: torch.Tensor) -> torch.Tensor:
        """[B, T, F] -> [B, patches, dim] patch tokens with positions."""
        self._check(fbank)
        x = self.patch_embed(fbank.unsqueeze(1))  # [B, dim, rows, cols]
        return x.flatten(2).transpose(1, 2) + self.pos

    @staticmethod
    def random_mask(batch: int, n: int, ratio: float, device: torch.device,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """MAE's per-sample random masking by argsort of uniform noise.

        Returns ``keep`` [B, n_keep] (indices of visible patches, ascending noise order) and
        ``mask`` [B, n] float with 1 where a patch is hidden. Exactly ``n - round(n (1-ratio))``
        patches are hidden in every sample.
        """
        n_keep = max(1, int(round(n * (1.0 - ratio))))
        noise = torch.rand(batch, n, device=device, generator=generator)
        order = noise.argsort(dim=1)
        keep = order[:, :n_keep]
        mask = torch.ones(batch, n, device=device)
        mask.scatter_(1, keep, 0.0)
        return keep, mask

    def encode(self, fbank: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Encode all patches, or only those indexed by ``keep`` [B, n_keep]. -> [B, n, dim]."""
        x = self.embed(fbank)
        if keep is not None:
            x = torch.gather(x, 1, keep.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def features(self, fbank: torch.Tensor) -> torch.Tensor:
        """The local semantic feature S: the encoder on every patch, no masking.

        Args:
            fbank: [B, T, F] normalised log-mel (T = n_frames, F = n_mels).
        Returns:
            S: [B, (T/P)*(F/P), C_s], time-major patch order (reshape to
            [B, T/P, F/P, C_s] for the paper's T/P x F/P x C_s layout).
        """
        return self.encode(fbank)

    # --- decoder and loss ---------------------------------------------------------------------

    def decode(self, latent: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """latent: [B, n_keep, dim] of the visible patches -> [B, patches, P*P] predictions."""
        b, n = latent.shape[0], self.cfg.n_patches
        y = self.decoder_embed(latent)
        full = self.mask_token.expand(b, n, -1).to(y.dtype).clone()
        full.scatter_(1, keep.unsqueeze(-1).expand(-1, -1, y.shape[-1]), y)
        x = full + self.dec_pos
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))

    def target(self, fbank: torch.Tensor) -> torch.Tensor:
        """[B, patches, P*P] reconstruction targets (per-patch normalised if norm_pix_loss)."""
        t = self.patchify(fbank)
        if self.cfg.norm_pix_loss:
            t = (t - t.mean(-1, keepdim=True)) / (t.var(-1, keepdim=True) + 1e-6).sqrt()
        return t

    def forward(self, fbank: torch.Tensor, mask_ratio: float | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pretraining step. Returns (loss, pred [B, patches, P*P], mask [B, patches], 1 = hidden)."""
        ratio = self.cfg.mask_ratio if mask_ratio is None else mask_ratio
        keep, mask = self.random_mask(fbank.shape[0], self.cfg.n_patches, ratio, fbank.device, generator)
        pred = self.decode(self.encode(fbank, keep), keep)
        per_patch = ((pred - self.target(fbank)) ** 2).mean(-1)
        loss = (per_patch * mask).sum() / mask.sum().clamp_min(1.0)
        return loss, pred, mask

    @torch.no_grad()
    def reconstruct(self, fbank: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """For pictures: the input, the masked input (hidden patches set to NaN) and the
        reconstruction (visible patches from the input, hidden ones predicted and brought
        back to the input's scale with each patch's true mean and std, as MAE's demo does).
        All [B, T, F]."""
        _, pred, mask = self.forward(fbank, generator=generator)
        patches = self.patchify(fbank)
        if self.cfg.norm_pix_loss:
            pred = pred * (patches.var(-1, keepdim=True) + 1e-6).sqrt() + patches.mean(-1, keepdim=True)
        m = mask.unsqueeze(-1).bool()
        masked = self.unpatchify(patches.masked_fill(m, float("nan")))
        recon = self.unpatchify(torch.where(m, pred, patches))
        return {"input": fbank, "masked": masked, "reconstruction": recon, "mask": mask}
