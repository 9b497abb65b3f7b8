"""The autoregressive acoustic language model H3 (paper Sec. III-E1, Eq. 9-10).

A transformer decoder generates the codec tokens of a clip frame by frame, conditioned on
its AudioMAE features S. How S enters is ``cond_mode`` (the paper does not say):

* ``cross``: cross-attention to S in every layer;
* ``aligned``: S time-aligned to the frames: S's patch rows [T/P, (F/P) C_s], each with its two
  neighbours, go through a small MLP to the model width, and each frame's input gets the row
  covering that frame's time and an embedding of its place within the row;
* ``both``: the two together.

As in UniCodec, all G groups of
frame t are produced in one step: the input at step t is the sum of G per-group embeddings of
frame t-1's tokens, and G output heads predict frame t's tokens. A start frame (every group
at BOS) opens the sequence; an end token closes it (predicted by group 0's head, whose
vocabulary is the codebook plus EOS).

The output layer is ``head`` (the paper does not say which):

* ``free``: one linear layer per group over the K codes (+ EOS), K x dim weights each;
* ``codebook``: each group's head predicts a point q in the codec's code space, and code k's
  logit is beta_g (2 q.e_k - |e_k|^2), i.e. a Gaussian around q evaluated at every code vector
  e_k (:meth:`AcousticLM.set_code_vectors`); the input embeds each code's vector too. Codes that
  decode alike then score alike, so the LM learns "about this spectrum" before "exactly this
  code", and greedy decoding picks the code nearest the prediction. Still a softmax over the K
  codes, so the cross-entropy (Eq. 10) is the same quantity.

Training is teacher-forced cross-entropy (Eq. 10). Generation is batched with a key/value
cache, greedy or temperature / top-k sampling, and stops at the end token or the frame budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hsm_lib.models.config import ModelConfig
from hsm_lib.models.layers import MLP, Attention, init_weights


@dataclass
class AcousticLMConfig(ModelConfig):
    cond_dim: int = 768        # C_s of S
    dim: int = 1024            # paper Sec. IV-C: hidden 1024
    layers: int = 12           # paper: 12 layers
    heads: int = 8             # paper: 8 heads
    groups: int = 12           # G, as the codec
    codebook_size: int = 1024  # K, as the codec
    max_frames: int = 500      # positions: 10 s at 50 frames/s (+ start frame)
    max_cond: int = 512        # positions of S (64 x 8 patches at 10.24 s)
    mlp_ratio: float = 4.0
    cond_mode: str = "cross"   # cross | aligned | both (how S enters; see the module docstring)
    cond_cols: int = 8         # F/P: S's patches per time row (S is time-major: P = rows x cols)
    frames_per_cond_row: float = 8.0  # codec frames per row of S (160 ms patches / 20 ms frames)
    head: str = "free"         # free | codebook (the output layer; see the module docstring)
    code_dim: int = 8          # codebook head: the widest code vector of a group (a gain group's is 1-d)

    def __post_init__(self):
        if self.cond_mode not in COND_MODES:
            raise ValueError(f"cond_mode must be one of {COND_MODES}, got {self.cond_mode!r}")
        if self.head not in LM_HEADS:
            raise ValueError(f"head must be one of {LM_HEADS}, got {self.head!r}")
        if self.max_cond % self.cond_cols:
            raise ValueError(f"max_cond={self.max_cond} is not a whole number of rows of cond_cols={self.cond_cols}")

    @property
    def cross(self) -> bool:
        return self.cond_mode in ("cross", "both")

    @property
    def aligned(self) -> bool:
        return self.cond_mode in ("aligned", "both")

    @property
    def bos(self) -> int:
        return self.codebook_size

    @property
    def eos(self) -> int:
        return self.codebook_size


COND_MODES = ("cross", "aligned", "both")
LM_HEADS = ("free", "codebook")
BETA_INIT, BETA_RATE = 0.1, 20.0   # codebook head: initial precision; log-precision per unit of its parameter


class StaticKVCache:
    """Every layer's self-attention keys and values in one buffer allocated once,
    [layers, 2, B, heads, capacity, head_dim], filled up to ``pos`` (a 0-d long tensor).

    A step writes its keys/values into place (``index_copy_``) and attends over the whole
    capacity, with the positions not yet written masked out. So no tensor is reallocated or
    grows between steps (the old cache grew by ``torch.cat`` at every step, which is slower
    than recomputing on a GPU), and every step has the same shapes, the same storage and no
    Python-side position: what ``torch.compile`` needs to compile the step once, and CUDA
    graphs need to capture it.
    """

    def __init__(self, layers: int, batch: int, heads: int, capacity: int, head_dim: int,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        self.buf = torch.zeros(layers, 2, batch, heads, capacity, head_dim, device=device, dtype=dtype)
        self.pos = torch.zeros((), dtype=torch.long, device=device)
        self.slots = torch.arange(capacity, device=device)

    @property
    def capacity(self) -> int:
        return self.buf.shape[4]

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Store k, v [B, heads, n, head_dim] of the n new positions at ``pos``..; returns every
        slot's keys and values [B, heads, capacity, head_dim] and the mask [n, capacity] (True =
        the new position may attend to that slot: written, and not after itself)."""
        n = k.shape[2]
        # the check reads pos back: free on a CPU, a sync on a GPU, impossible inside a compiled step
        if self.buf.device.type == "cpu" and not torch.compiler.is_compiling() and int(self.pos) + n > self.capacity:
            raise ValueError(f"the key/value cache holds {self.capacity} positions: {int(self.pos)} filled, {n} more asked")
        at = self.pos + self.slots[:n]
        self.buf[layer, 0].index_copy_(2, at, k.to(self.buf.dtype))
        self.buf[layer, 1].index_copy_(2, at, v.to(self.buf.dtype))
        return self.buf[layer, 0], self.buf[layer, 1], self.slots[None, :] <= at[:, None]

    def advance(self, n: int) -> None:
        """Mark the n positions just written as filled (in place: the tensor is not replaced)."""
        self.pos.add_(n)


@dataclass
class Condition:
    """S prepared once per batch: every layer's cross-attention keys/values (None without
    cross-attention) and the aligned rows [B, T/P, dim] (None without alignment)."""

    kv: list[tuple[torch.Tensor, torch.Tensor] | None]
    rows: torch.Tensor | None


class DecoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, cross: bool = True):
        super().__init__()
        self.norm1, self.self_attn = nn.LayerNorm(dim), Attention(dim, heads)
        if cross:
            self.norm2, self.cross_attn = nn.LayerNorm(dim), Attention(dim, heads)
        else:
            self.cross_attn = None
        self.norm3, self.mlp = nn.LayerNorm(dim), MLP(dim, mlp_ratio)

    def forward(self, x: torch.Tensor, cond_kv: tuple[torch.Tensor, torch.Tensor] | None,
                cache: StaticKVCache | None = None, layer: int = 0) -> torch.Tensor:
        """x: [B, L, dim] new positions. Without ``cache`` they are the whole sequence (causal);
        with it they follow the cache's filled positions, and their keys/values are written to its
        slots for ``layer``. Returns [B, L, dim]."""
        h = self.norm1(x)
        k, v = self.self_attn.project_kv(h)
        if cache is not None:
            k, v, mask = cache.write(layer, k, v)
        else:  # position i sees every position up to itself
            mask = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool, device=x.device).tril()
        x = x + self.self_attn(h, mask=mask, kv=(k, v))
        if self.cross_attn is not None:
            x = x + self.cross_attn(self.norm2(x), kv=cond_kv)
        return x + self.mlp(self.norm3(x))


class AcousticLM(nn.Module):
    def __init__(self, cfg: AcousticLMConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        # per-group embeddings of codes + BOS (index K); inputs are summed over groups
        self.embed = nn.ModuleList(nn.Embedding(cfg.codebook_size + 1, d) for _ in range(cfg.groups))
        self.pos = nn.Parameter(torch.randn(1, cfg.max_frames + 1, d) * 0.02)
        if cfg.cross:
            self.cond_in = nn.Linear(cfg.cond_dim, d)
            self.cond_pos = nn.Parameter(torch.randn(1, cfg.max_cond, d) * 0.02)
        if cfg.aligned:
            # each frame's row of S with its two neighbours, through a small MLP, plus where in
            # its row the frame sits (8 codec frames share a 160 ms row)
            self.row_in = nn.Sequential(nn.Linear(3 * cfg.cond_cols * cfg.cond_dim, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
            self.row_phase = nn.Embedding(math.ceil(cfg.frames_per_cond_row), d)
        self.blocks = nn.ModuleList(DecoderBlock(d, cfg.heads, cfg.mlp_ratio, cross=cfg.cross) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)
        if cfg.head == "free":
            # one head per group over codes + EOS (index K)
            self.heads = nn.ModuleList(nn.Linear(d, cfg.codebook_size + 1) for _ in range(cfg.groups))
        else:
            # the codec's code vectors (normalised per group; row K, BOS, is zero): each group's
            # head predicts a point q in code space, each code's logit is beta (2 q.e - |e|^2)
            self.register_buffer("code_vectors", torch.zeros(cfg.groups, cfg.codebook_size + 1, cfg.code_dim))
            self.code_in = nn.ModuleList(nn.Linear(cfg.code_dim, d) for _ in range(cfg.groups))
            self.heads = nn.ModuleList(nn.Linear(d, cfg.code_dim) for _ in range(cfg.groups))
            self.eos_head = nn.Linear(d, cfg.groups)
            self.log_beta = nn.Parameter(torch.zeros(cfg.groups))        # beta = BETA_INIT * e^(BETA_RATE * log_beta)
        init_weights(self)

    def beta(self) -> torch.Tensor:
        """The codebook head's precision per group [G]. It starts broad (a code vector's spread is
        1 per dimension) and is parameterised so that Adam can move it by orders of magnitude
        within a few hundred steps."""
        return BETA_INIT * torch.exp(BETA_RATE * self.log_beta)

    @torch.no_grad()
    def set_code_vectors(self, vectors: torch.Tensor) -> None:
        """Give the codebook head the codec's code vectors [G, K, d] (d <= code_dim; narrower
        groups zero-padded, see the codecs' ``code_vectors()``). Each group is centred and scaled
        to unit RMS, so that one initial beta suits every group."""
        cfg = self.cfg
        if cfg.head != "codebook":
            raise ValueError("only the codebook head reads code vectors")
        g, k, dim = vectors.shape
        if (g, k) != (cfg.groups, cfg.codebook_size) or dim > cfg.code_dim:
            raise ValueError(f"code vectors {list(vectors.shape)} do not fit groups={cfg.groups}, "
                             f"codebook_size={cfg.codebook_size}, code_dim={cfg.code_dim}")
        v = vectors.float()
        used = v.abs().amax(1, keepdim=True) > 0                 # [G, 1, d]: a group's padded dims stay zero
        v = (v - v.mean(1, keepdim=True)) * used
        rms = (v.pow(2).sum((1, 2)) / used.sum((1, 2)).clamp_min(1) / k).sqrt().clamp_min(1e-8)
        self.code_vectors.zero_()
        self.code_vectors[:, :k, :dim] = v / rms[:, None, None]
        # Start each group's precision at its codes' spacing: a Gaussian whose width is twice the
        # median distance between neighbouring codes. One value for all groups would be far too
        # broad for the 1024 finely spaced gain levels, and far too sharp for the shape codes.
        e = self.code_vectors[:, :k]
        dist = torch.cdist(e, e) + torch.eye(k, device=e.device) * 1e9
        spacing = dist.min(-1).values.median(-1).values.clamp_min(1e-6)          # [G]
        self.log_beta.copy_(torch.log(1.0 / (2 * (2 * spacing) ** 2) / BETA_INIT) / BETA_RATE)

    # --- pieces -------------------------------------------------------------------------------

    def condition(self, cond: torch.Tensor) -> Condition:
        """S [B, P, cond_dim] (time-major patches) -> its cross-attention keys/values per layer
        and its aligned rows (whichever ``cond_mode`` uses; computed once per batch)."""
        cfg = self.cfg
        if cond.shape[1] > cfg.max_cond or cond.shape[1] % cfg.cond_cols:
            raise ValueError(f"S has {cond.shape[1]} positions: at most max_cond={cfg.max_cond}, "
                             f"whole rows of cond_cols={cfg.cond_cols}")
        kv: list = [None] * len(self.blocks)
        if cfg.cross:
            c = self.cond_in(cond) + self.cond_pos[:, : cond.shape[1]]
            kv = [blk.cross_attn.project_kv(c) for blk in self.blocks]
        rows = None
        if cfg.aligned:
            r = cond.reshape(cond.shape[0], -1, cfg.cond_cols * cfg.cond_dim)                  # [B, T/P, cols C_s]
            context = torch.cat([F.pad(r, (0, 0, 1, 0))[:, :-1], r, F.pad(r, (0, 0, 0, 1))[:, 1:]], -1)
            rows = self.row_in(context)                                                        # [B, T/P, dim]
        return Condition(kv, rows)

    def embed_frames(self, frames: torch.Tensor, start: int, cond: Condition | None = None) -> torch.Tensor:
        """Frames [B, L, G] of token ids (BOS allowed) at positions start.. -> [B, L, dim].

        Position t predicts frame t, so with aligned S it gets the row of S covering frame t (with
        its neighbours: 160 ms of look-ahead into S, which is given whole) and its place in the row."""
        x = sum(emb(frames[..., g]) for g, emb in enumerate(self.embed))
        if self.cfg.head == "codebook":   # and the code's own vector, so that near codes start near
            x = x + sum(proj(self.code_vectors[g][frames[..., g]]) for g, proj in enumerate(self.code_in))
        n = frames.shape[1]
        if start + n > self.pos.shape[1]:
            raise ValueError(f"sequence longer than max_frames={self.cfg.max_frames}")
        x = x + self.pos[:, start:start + n]
        if cond is not None and cond.rows is not None:
            t = torch.arange(start, start + n, device=frames.device)
            row = (t / self.cfg.frames_per_cond_row).long().clamp(max=cond.rows.shape[1] - 1)
            phase = (t - row * self.cfg.frames_per_cond_row).long().clamp(0, self.row_phase.num_embeddings - 1)
            x = x + cond.rows[:, row] + self.row_phase(phase)
        return x

    def new_cache(self, batch: int, capacity: int, device: torch.device | str = "cpu",
                  dtype: torch.dtype = torch.float32) -> StaticKVCache:
        """An empty key/value cache for ``batch`` sequences of up to ``capacity`` positions."""
        return StaticKVCache(len(self.blocks), batch, self.cfg.heads, capacity, self.cfg.dim // self.cfg.heads, device, dtype)

    def hidden(self, x: torch.Tensor, cond: Condition, cache: StaticKVCache | None) -> torch.Tensor:
        """Run the blocks on new positions x [B, L, dim] (after the cache's filled positions, which
        it then extends by L); returns the normed states [B, L, dim]."""
        for i, blk in enumerate(self.blocks):
            x = blk(x, cond.kv[i], cache, i)
        if cache is not None:
            cache.advance(x.shape[1])
        return self.norm(x)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """States [..., dim] -> every group's logits [..., G, K + 1]."""
        if self.cfg.head == "free":
            return torch.stack([head(h) for head in self.heads], dim=-2)
        e = self.code_vectors[:, : self.cfg.codebook_size]                   # [G, K, d]
        q = torch.stack([head(h) for head in self.heads], dim=-2)           # [..., G, d]
        near = 2 * torch.einsum("...gd,gkd->...gk", q, e) - e.pow(2).sum(-1)   # [..., G, K]
        codes = self.beta()[:, None] * near
        return torch.cat([codes, self.eos_head(h).unsqueeze(-1)], -1)

    def step(self, x: torch.Tensor, cond: Condition, cache: StaticKVCache | None) -> torch.Tensor:
        """Run the blocks on new positions x [B, L, dim]; returns logits [B, L, G, K + 1]."""
        return self.logits(self.hidden(x, cond, cache))

    # --- training -----------------------------------------------------------------------------

    def loss(self, cond: torch.Tensor, tokens: torch.Tensor, lengths: torch.Tensor | None = None,
             scored_fraction: float = 1.0, generator: torch.Generator | None = None,
             input_dropout: float = 0.0) -> torch.Tensor:
        """Teacher-forced cross-entropy (Eq. 10).

        Args:
            cond: S [B, P, cond_dim].
            tokens: codec tokens [B, T_a, G]; frames at or after ``lengths`` are padding.
            lengths: [B] number of real frames (default: all T_a).
            scored_fraction: score only this fraction of the positions, drawn at random (all of
                them at 1.0). The G output heads over K + 1 classes are most of a step's cost on a
                CPU, and every position still attends to the whole prefix, so a training step on a
                random quarter of the positions is an unbiased, cheaper estimate of the full loss.
            input_dropout: the probability that a previous frame is hidden from the input (all its
                groups replaced by the start token). Teacher forcing lets a model predict each frame
                mostly by copying the true previous one; when generating, that frame is its own
                guess, and errors compound (the gain drifts). Hidden frames make it read S.
        """
        if not 0.0 < scored_fraction <= 1.0:
            raise ValueError(f"scored_fraction must be in (0, 1], got {scored_fraction}")
        if not 0.0 <= input_dropout < 1.0:
            raise ValueError(f"input_dropout must be in [0, 1), got {input_dropout}")
        b, t, g = tokens.shape
        lengths = torch.full((b,), t, device=tokens.device) if lengths is None else lengths
        bos = torch.full((b, 1, g), self.cfg.bos, dtype=tokens.dtype, device=tokens.device)
        inputs = torch.cat([bos, tokens], dim=1)                         # [B, T_a + 1, G]: BOS, a_0 .. a_{T-1}
        targets = torch.cat([tokens, torch.zeros_like(bos)], dim=1)     # a_0 .. a_{T-1}, EOS
        frame = torch.arange(t + 1, device=tokens.device)[None]
        targets = torch.where((frame == lengths[:, None])[..., None], self.cfg.eos, targets)
        targets = targets.masked_fill((frame > lengths[:, None])[..., None], -100)  # padding
        inputs = inputs.masked_fill((frame > lengths[:, None])[..., None], 0)
        if input_dropout > 0:
            dev = generator.device if generator is not None else "cpu"
            hide = (torch.rand(b, t + 1, generator=generator, device=dev) < input_dropout).to(inputs.device)
            inputs = inputs.masked_fill(hide[..., None], self.cfg.bos)
        c = self.condition(cond)
        h = self.hidden(self.embed_frames(inputs, 0, c), c, None)      # [B, T_a + 1, dim]
        h, targets = h.reshape(-1, h.shape[-1]), targets.reshape(-1, g)
        if scored_fraction < 1.0:
            n = max(1, round(scored_fraction * len(h)))
            keep = torch.randperm(len(h), generator=generator, device=generator.device if generator else "cpu")[:n].to(h.device)
            h, targets = h[keep], targets[keep]
        logits = self.logits(h)                                           # [N, G, K + 1]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)

    # --- generation ---------------------------------------------------------------------------

    def _compiled_step(self, device: torch.device):
        """:meth:`step` through torch.compile, built once per model (recompiled by torch only when
        the batch size or the cache's capacity changes)."""
        if getattr(self, "_compiled", None) is None:
            mode = "reduce-overhead" if torch.device(device).type == "cuda" else None
            self._compiled = torch.compile(self.step, mode=mode, dynamic=False)
        return self._compiled

    @staticmethod
    def _pick(logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None) -> torch.Tensor:
        """logits [..., V] -> ids [...]: greedy when temperature == 0."""
        if temperature <= 0:
            return logits.argmax(-1)
        logits = logits / temperature
        if top_k:
            kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        # Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits). The uniforms
        # come from the generator's own device, so a CPU generator drives a model on the GPU
        # (torch.multinomial refuses that) and a seed gives the same draws on either device.
        device = generator.device if generator is not None else logits.device
        u = torch.rand(logits.shape, generator=generator, device=device).to(logits.device)
        gumbel = -torch.log(-torch.log(u.clamp_min(1e-20)))
        return (logits + gumbel).argmax(-1)

    @torch.no_grad()
    def generate(self, cond: torch.Tensor, max_frames: int, temperature: float = 0.0, top_k: int = 0,
                 use_cache: bool = True, generator: torch.Generator | None = None,
                 stop_at_end: bool = True, compile_step: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Generate codec tokens for a batch of conditions.

        Args:
            cond: S [B, P, cond_dim].
            max_frames: frame budget (at most ``cfg.max_frames``).
            temperature, top_k: 0 = greedy; otherwise sampling with the given temperature and,
                if top_k > 0, from the top-k codes only.
            use_cache: keep keys/values of earlier frames in a preallocated cache (O(T) per step)
                instead of recomputing the whole prefix (O(T^2)); both give the same tokens.
            compile_step: run the cached step through ``torch.compile`` (same shapes at every step,
                so it compiles once per batch size and frame budget; on CUDA, mode
                "reduce-overhead" captures it as a CUDA graph). Needs ``use_cache``.
            stop_at_end: end a sequence at its end token; False generates exactly ``max_frames``
                frames whatever the end head says (the caller knows the length: a window of a
                recording, a fixed-length clip).
        Returns:
            tokens [B, T, G] (frames at or after a sequence's end are 0) and lengths [B].
        """
        b, g, k = cond.shape[0], self.cfg.groups, self.cfg.codebook_size
        max_frames = min(max_frames, self.cfg.max_frames)
        c = self.condition(cond)
        frames = torch.full((b, 1, g), self.cfg.bos, dtype=torch.long, device=cond.device)
        lengths = torch.full((b,), max_frames, dtype=torch.long, device=cond.device)
        done = torch.zeros(b, dtype=torch.bool, device=cond.device)
        if compile_step and not use_cache:
            raise ValueError("compile_step needs use_cache (the uncached step changes shape every frame)")
        cache = self.new_cache(b, max_frames + 1, cond.device, cond.dtype) if use_cache else None
        step = self._compiled_step(cond.device) if compile_step else self.step
        out = []
        for t in range(max_frames + 1):
            if use_cache:
                logits = step(self.embed_frames(frames[:, -1:], t, c), c, cache)
            else:
                logits = self.step(self.embed_frames(frames, 0, c), c, None)
            last = logits[:, -1]                                            # [B, G, K + 1]
            if stop_at_end:   # group 0 decides the end
                ended = self._pick(last[:, 0], temperature, top_k, generator) == self.cfg.eos
            else:
                ended = torch.zeros(b, dtype=torch.bool, device=cond.device)
            codes = self._pick(last[..., :k], temperature, top_k, generator)   # codes only, EOS excluded
            newly = ended & ~done
            lengths = torch.where(newly, torch.full_like(lengths, t), lengths)
            done = done | ended
            if t == max_frames or bool(done.all()):
                break
            codes = codes.masked_fill(done[:, None], 0)
            out.append(codes)
            frames = torch.cat([frames, codes[:, None]], dim=1)
        tokens = torch.stack(out, dim=1) if out else torch.zeros(b, 0, g, dtype=torch.long, device=cond.device)
        return tokens, lengths.clamp(max=tokens.shape[1])

