"""Text side of HSM-TSS: the frozen text backbone (and, later, the instruction parser)."""
