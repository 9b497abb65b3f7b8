"""HSM-TSS: text-queried audio source separation via hierarchical modeling (companion code)."""

__version__ = "0.1.0"

__all__ = ["Separator", "parse_instruction", "Instruction", "InstructionError", "AudioError", "CheckpointError",
           "read_audio_file", "resolve_checkpoint"]

# public name -> the module that defines it
_EXPORTS = {
    "Separator": "hsm_lib.pipeline",
    "parse_instruction": "hsm_lib.text.instructions",
    "Instruction": "hsm_lib.text.instructions",
    "InstructionError": "hsm_lib.text.instructions",
    "AudioError": "hsm_lib.audio",
    "CheckpointError": "hsm_lib.checkpoint",
    "read_audio_file": "hsm_lib.audio_files",
    "resolve_checkpoint": "hsm_lib.checkpoint_location",
}


def __getattr__(name: str):
    # lazy, so that `import hsm_lib` stays cheap (no torch) until a name is used
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hsm_lib' has no attribute {name!r}")
