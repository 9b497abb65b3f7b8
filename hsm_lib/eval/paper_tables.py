"""The paper's own numbers (Tables II-IV), quoted for reference beside ours and labelled as the
paper's: they were measured on the paper's data (AudioCaps, Clotho, FSD50K, MUSIC) with its
metrics (PANNs KL, Audio Flamingo AFSim, MS-CLAP), none of which we have."""

# Table II, "3 Sets" (the mixed benchmark): KL, LSD, PSNR.
TABLE2_3SETS = {
    "LASS-Net": (2.577, 3.170, 16.42),
    "CLIPSep": (2.320, 3.197, 14.38),
    "BiModalSep": (1.634, 3.118, 19.49),
    "AudioSep": (1.027, 3.037, 22.50),
    "Ours_single (extraction)": (0.999, 2.878, 25.50),
    "Ours (extraction)": (0.924, 2.848, 25.77),
    "Ours_single (removal)": (1.079, 2.869, 25.50),
    "Ours (removal)": (1.007, 2.852, 25.66),
}

# Table III, "3 Sets": AFSim, CLAP (GT: the target audio's own CLAP score).
TABLE3_3SETS = {
    "GT": (None, 0.481),
    "LASS-Net": (0.615, 0.268),
    "CLIPSep": (0.514, 0.229),
    "BiModalSep": (0.678, 0.420),
    "AudioSep": (0.730, 0.357),
    "Ours_single (extraction)": (0.744, 0.420),
    "Ours (extraction)": (0.752, 0.436),
    "Ours_single (removal)": (0.738, 0.419),
    "Ours (removal)": (0.741, 0.428),
}

# Table IV, MUSIC zero-shot: KL, LSD, PSNR, CLAP, AFSim (as printed).
TABLE4_MUSIC = {
    "LASS-Net": (4.180, 2.066, 13.23, 0.126, 0.503),
    "CLIPSep": (2.179, 2.554, 14.07, 0.372, 0.657),
    "BiModalSep": (2.607, 2.250, 14.35, 0.374, 0.671),
    "AudioSep": (0.535, 1.624, 22.01, 0.342, 0.804),
    "Ours_single (extraction)": (0.585, 1.400, 23.22, 0.463, 0.799),
    "Ours (extraction)": (0.501, 1.375, 23.85, 0.470, 0.811),
}
