"""Hygiene shared by every unit test."""
import logging

import pytest


@pytest.fixture(autouse=True)
def _restore_logging():
    """Put the logging configuration back after each test.

    Commands under test set up logging (oslo.log, osc-lib) with handlers
    bound to the stream of that moment; pytest closes its capture streams
    after the test, and a later test's log record would hit a closed file.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = {name: (list(lg.handlers), lg.level, lg.propagate)
               for name, lg in logging.root.manager.loggerDict.items()
               if isinstance(lg, logging.Logger)}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lg in list(logging.root.manager.loggerDict.items()):
        if not isinstance(lg, logging.Logger):
            continue
        if name in loggers:
            lg.handlers[:], lg.level, lg.propagate = loggers[name]
        else:
            lg.handlers[:] = []
