"""HSM-TSS: text-queried audio source separation via hierarchical modeling (companion code)."""

__version__ = "0.1.0"
