"""python -m hsm_lib.data.sources: list which real-sound sources this machine has."""

from hsm_lib.data.sources.availability import report

print(report())
