"""Reproduction of "When does label smoothing help?" as a DVC pipeline.

Stage entry points live at ``pipeline/stages/<stage>.py`` (one per DVC stage,
run as ``python -m pipeline.stages.<stage>``); the packages beside them
(``config``, ``data``, ``models``, ``training``, ``formulas``, ``reporting``,
``text``) are shared by the stages. Data flows one way: a stage imports the
shared library, never another stage. Importing the package changes nothing in
the process: the allocator settings are applied where a stage starts
(``pipeline.stage.run``) and where a backend's worker starts.
"""
