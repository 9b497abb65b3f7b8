"""Figures drawn from saved arrays, by the ``figures`` stage only.

Each module draws one figure from what an evaluation or training stage saved (the kept examples,
the training curves), so that restyling a figure reruns the ``figures`` stage and nothing else:
no stage that trains or evaluates imports this package.
"""
