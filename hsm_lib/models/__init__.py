"""The project's models: AudioMAE, Q-Audio, the CLAP-style baseline, and (later) the separators."""
