"""Scanners that turn installed/downloaded sound collections into :class:`~hsm_lib.data.records.Recording` lists."""
