"""Training loops: one small function per model, configured by plain arguments."""
