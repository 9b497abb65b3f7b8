"""Fixture corpora in the paper's published layouts, and the `paper` profile shrunk in counts only.

``write_corpora(root)`` writes small AudioCaps, Clotho, FSD50K, ESC-50 and WavCaps folders, each
in the layout its release ships (CSV/JSON metadata, audio files named as the release names
them, at 16 or 44.1 kHz, mono or stereo), with synthesised sounds of a dozen events whose
captions fall in disjoint tags, so the data stage can mix them. ``fixture_params`` takes the
`paper` section of params.yaml and changes counts, steps and paths only: every size (16 kHz,
10-s clips, 1024 fbank frames, the paper's model widths and depths) stays the paper's.
"""

from __future__ import annotations

import copy
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

# (caption, FSD50K-style label, ESC-50 category): one event each, with disjoint unified tags
EVENTS = (
    ("A dog barks repeatedly", "Bark", "dog"),
    ("Rain falls steadily on a roof", "Rain", "rain"),
    ("A car engine idles and revs", "Engine", "engine"),
    ("Birds chirp in the trees", "Chirp_and_tweet", "chirping_birds"),
    ("A man speaks in a calm voice", "Male_speech_and_man_speaking", "speech"),
    ("An alarm beeps loudly", "Beep_and_bleep", "clock_alarm"),
    ("A cat meows", "Meow", "cat"),
    ("A piano plays a melody", "Piano", "piano"),
    ("Someone knocks on a door", "Knock", "door_wood_knock"),
)
SPLITS = ("train", "val", "test")


def seed_of(*parts: Any) -> int:
    """A seed from names (Python's hash() of a string changes from one process to the next)."""
    return zlib.crc32(repr(parts).encode())


def event_sound(k: int, seconds: float, sr: int, seed: int, stereo: bool = False) -> np.ndarray:
    """A few seconds of event ``k``: a pitched, pulsed tone with its own rate over a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 110.0 * 2 ** (k / 2.5)
    pulses = 0.5 * (1 + np.sign(np.sin(2 * np.pi * (0.7 + 0.6 * k) * t)))
    tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in (1, 2, 3)) * pulses
    wave = (0.3 * tone + 0.03 * rng.standard_normal(t.size)).astype(np.float32)
    return np.stack([wave, 0.8 * wave], 1) if stereo else wave


def _wav(path: Path, k: int, seed: int, sr: int = 16000, stereo: bool = False, seconds: float = 3.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, event_sound(k, seconds, sr, seed, stereo), sr)


def _rows(per_split: dict[str, int]):
    """(split, i, event) for ``per_split[split]`` rows of each split, events in turn."""
    for s, split in enumerate(SPLITS):
        for i in range(per_split[split]):
            yield split, i, (i + 3 * s) % len(EVENTS)


def write_corpora(root: Path, per_split: dict[str, int] | None = None) -> dict[str, dict[str, Any]]:
    """Write the five corpora under ``root``; returns params.yaml's ``data.corpora`` for them."""
    per_split = per_split or {"train": 9, "val": 3, "test": 9}
    root = Path(root)

    # AudioCaps: dataset/{train,val,test}.csv, audio named by YouTube id (Y-prefixed in some releases)
    ds, audio = root / "audiocaps" / "dataset", root / "audiocaps" / "audio"
    ds.mkdir(parents=True)
    lines = {s: ["audiocap_id,youtube_id,start_time,caption"] for s in SPLITS}
    for split, i, k in _rows(per_split):
        yt = f"{split[:2]}{i:09d}"
        lines[split] += [f"{len(lines[split])},{yt},30,{EVENTS[k][0]}", f"{len(lines[split]) + 1000},{yt},30,\"{EVENTS[k][0]}, clearly\""]
        _wav(audio / (f"Y{yt}.wav" if i % 2 else f"{yt}.wav"), k, seed_of("ac", split, i), 44100 if i % 3 == 0 else 16000, stereo=i % 3 == 0)
    for split in SPLITS:
        (ds / f"{split}.csv").write_text("\n".join(lines[split]) + "\n")

    # Clotho: clotho_captions_{development,validation,evaluation}.csv, five captions, audio per split folder
    meta, audio = root / "clotho" / "csv", root / "clotho" / "audio"
    meta.mkdir(parents=True)
    folders = dict(zip(SPLITS, ("development", "validation", "evaluation")))
    header = "file_name,caption_1,caption_2,caption_3,caption_4,caption_5"
    rows = {s: [header] for s in SPLITS}
    for split, i, k in _rows(per_split):
        name = f"{folders[split]} sound {i}.wav"
        rows[split].append(f"\"{name}\"," + ",".join(f"\"{EVENTS[k][0]} ({j})\"" for j in range(5)))
        _wav(audio / folders[split] / name, k, seed_of("cl", split, i), 44100)
    for split in SPLITS:
        (meta / f"clotho_captions_{folders[split]}.csv").write_text("\n".join(rows[split]) + "\n")

    # FSD50K: FSD50K.ground_truth/{vocabulary,dev,eval}.csv, FSD50K.{dev,eval}_audio/<fname>.wav
    gt, audio = root / "FSD50K" / "FSD50K.ground_truth", root / "FSD50K"
    gt.mkdir(parents=True)
    (gt / "vocabulary.csv").write_text("".join(f"{k},{e[1]},/m/fx{k}\n" for k, e in enumerate(EVENTS)))
    dev, ev = ["fname,labels,mids,split"], ["fname,labels,mids"]
    for split, i, k in _rows(per_split):
        fname = f"{SPLITS.index(split)}{i:05d}"
        if split == "test":
            ev.append(f"{fname},{EVENTS[k][1]},/m/fx{k}")
        else:
            dev.append(f"{fname},{EVENTS[k][1]},/m/fx{k},{split}")
        _wav(audio / ("FSD50K.eval_audio" if split == "test" else "FSD50K.dev_audio") / f"{fname}.wav", k,
             seed_of("fsd", split, i), 44100)
    (gt / "dev.csv").write_text("\n".join(dev) + "\n")
    (gt / "eval.csv").write_text("\n".join(ev) + "\n")

    # ESC-50: meta/esc50.csv (folds 1-5; fold 5 test, fold 4 val by default), audio/<filename>
    esc = root / "ESC-50-master"
    (esc / "meta").mkdir(parents=True)
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    fold_of = {"train": 1, "val": 4, "test": 5}
    for split, i, k in _rows(per_split):
        name = f"{fold_of[split]}-{100000 + i}-A-{k}.wav"
        rows.append(f"{name},{fold_of[split]},{k},{EVENTS[k][2]},False,{100000 + i},A")
        _wav(esc / "audio" / name, k, seed_of("esc", split, i), 44100, seconds=5.0)
    (esc / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")

    # WavCaps: json_files/<subset>/<name>.json, waveforms/<subset>_flac/<id>.flac, and its blacklist
    js, audio = root / "WavCaps" / "json_files", root / "WavCaps" / "waveforms"
    data = {"AudioSet_SL": [], "SoundBible": [], "BBC_Sound_Effects": []}
    for i in range(per_split["train"] + 2):
        k = i % len(EVENTS)
        subset = list(data)[i % 3]
        item_id = f"Y{i:011d}.wav" if subset == "AudioSet_SL" else f"{7000 + i}"
        data[subset].append({"id": item_id, "caption": EVENTS[k][0] + ".", "audio": "wav_path", "duration": 3.0})
        stem = item_id.removesuffix(".wav")
        _wav(audio / f"{subset}_flac" / f"{stem}.flac", k, seed_of("wc", i))
    names = {"AudioSet_SL": "as_final.json", "SoundBible": "sb_final.json", "BBC_Sound_Effects": "bbc_final.json"}
    for subset, items in data.items():
        (js / subset).mkdir(parents=True, exist_ok=True)
        (js / subset / names[subset]).write_text(json.dumps({"num_captions_per_audio": 1, "data": items}))
    (js / "blacklist").mkdir()
    blacklist = js / "blacklist" / "blacklist_exclude_test_ac.json"
    blacklist.write_text(json.dumps({"AudioSet": [data["AudioSet_SL"][0]["id"]], "FreeSound": []}))

    return {
        "audiocaps": {"metadata": str(root / "audiocaps" / "dataset"), "audio_root": str(root / "audiocaps" / "audio")},
        "clotho": {"metadata": str(root / "clotho" / "csv"), "audio_root": str(root / "clotho" / "audio")},
        "fsd50k": {"metadata": str(gt), "audio_root": str(root / "FSD50K")},
        "esc50": {"metadata": str(esc / "meta" / "esc50.csv"), "audio_root": str(esc / "audio")},
        "wavcaps": {"metadata": str(js), "audio_root": str(audio), "exclude_lists": [str(blacklist)]},
    }


def write_gpt2(folder: Path) -> Path:
    """A GPT-2 in the Hugging Face layout (config, safetensors weights, byte-level BPE tokenizer),
    tiny and random, where the paper profile's caption decoder reads its pretrained GPT-2: the
    real weights cannot be had offline, and the code path is the same."""
    import torch
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    vocab = {c: i for i, c in enumerate(sorted(ByteLevel.alphabet()))}
    eos = vocab["<|endoftext|>"] = len(vocab)
    GPT2TokenizerFast(vocab=vocab, merges=[]).save_pretrained(folder)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(vocab), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                               bos_token_id=eos, eos_token_id=eos)).save_pretrained(folder)
    return folder


def _steps(steps: int = 1, batch_size: int = 2, **extra: Any) -> dict[str, Any]:
    return {"train": {"steps": steps, "batch_size": batch_size, "warmup_steps": 1, "checkpoint_every": 1, **extra}}


def counts_and_steps(corpora: dict[str, Any], train_triplets: int = 12, gpt2: Path | None = None) -> dict[str, Any]:
    """What the fixture changes in each stage's section: counts, steps, paths, and the CPU.
    ``gpt2``: the folder :func:`write_gpt2` filled (None: the paper's path stays)."""
    return {
        "data": {"clips": {"train": 20, "val": 6, "test": 18}, "triplets": {"train": train_triplets, "val": 4},
                 "test_pairs_per_family": 3, "test_pairs_mixed": 4, "music_clips_per_class": 1, "test_pairs_music": 2,
                 "corpora": corpora, "workers": 2},
        "ood_data": {"pairs": 2, "clips": 4},
        "audiomae": {**_steps(eval_every=1), "val_clips": 2,
                     "probes": {"min_train": 1, "min_test": 1, "max_per_class": 2, "voices": 2, "words": ["zero", "one"],
                                "notes": 12, "random_init_seeds": 1}},
        # FLAN-T5's weights cannot be had offline here (shared/DATA.md): the fixture's text backbone is MiniLM
        "qaudio": {**_steps(batch_size=4), "text_backbone": "minilm", "rerank_top": 4},
        "codec": {**_steps(adversarial_from=1, quantizer_warmup=1), "eval_clips": 2, "visqol_clips": 1,
                  "ablation": {"clips": 2, "variants": {}}},
        "acoustic_lm": {**_steps(), "eval_clips": 2, "visqol_clips": 1},   # 2: the mismatched-S cross-entropy pairs clips
        "parser": {"examples": 200, "steps": 5, "batch_size": 16, "generated_eval": 20},
        "global_sep": _steps(),
        "local_sep": _steps(),
        "joint_ft": _steps(),
        "baselines": _steps(),
        "eval_clap": _steps(batch_size=4),
        "captioning": {**_steps(batch_size=4, val_every=1), "validation_clips": 2,
                       **({"decoder": {"pretrained": str(gpt2)}} if gpt2 is not None else {})},
        # every output of the paper's LM is 500 autoregressive steps through 12 x 1024 layers (~40 s on 2 cores):
        # two sets of one triplet (the mixed one, with the ceilings, and music_synth, whose Table IV is a declared
        # output; the paper names every set, so ood is set to 0 here) and one recording of two windows (one join)
        # keep this stage to a few minutes
        "evaluate": {"triplets": {"default": 0, "mixed": 1, "music_synth": 1, "ood": 0},
                     "long_form": {"set": "mixed", "triplets": 1, "seconds": 19.0},
                     "batch_size": 8, "device": "cpu"},
    }


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def fixture_params(params: dict[str, Any], corpora: dict[str, Any], train_triplets: int = 12,
                   gpt2: Path | None = None) -> dict[str, Any]:
    """params.yaml with ``profile: paper`` and its paper section shrunk by :func:`counts_and_steps`."""
    out = copy.deepcopy(params)
    out["profile"] = "paper"
    out["paper"] = deep_merge(params["paper"], counts_and_steps(corpora, train_triplets, gpt2))
    return out
