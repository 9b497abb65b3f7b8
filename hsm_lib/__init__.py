"""HSM-TSS: text-queried audio source separation via hierarchical modeling (companion code)."""

__version__ = "0.1.0"

__all__ = ["parse_instruction", "Instruction"]


def __getattr__(name: str):
    # lazy, so that `import hsm_lib` stays cheap and pulls in no submodule
    if name in ("parse_instruction", "Instruction"):
        from hsm_lib.text import instructions

        return getattr(instructions, name)
    raise AttributeError(f"module 'hsm_lib' has no attribute {name!r}")
