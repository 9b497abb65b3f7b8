"""The pipeline's stages as library code: one module per stage, each with one ``run`` entry point.

``notebooks/NN_<stage>.ipynb`` calls ``<stage>.run(profile, params)`` and displays what the
returned result holds; ``python -m hsm_lib.stage <stage>`` runs that notebook headless. ``run``
does all the computation and writes every file the stage writes (checkpoints under
data/<profile>/models, tables and figures under :func:`hsm_lib.paths.reports_dir`).
"""
