"""Reproduction of "When does label smoothing help?" as a DVC pipeline.

Stage entry points live at ``pipeline/<stage>.py`` (one per DVC stage); the
packages beside them (``data``, ``models``, ``training``) and the formula
modules (``losses``) are shared by the stages. Data flows one way: a stage
imports the shared library, never another stage.
"""

from .allocator import keep_freed_memory

keep_freed_memory()
