"""Anomaly models behind the stevedore namespace ``dpiaas.detectors``.

Every model works on one monitor's robust-scaled feature rows (see
:mod:`dpiaas.detect.features`) and is fitted on that monitor's own
baseline only: models are never shared between monitors, let alone
tenants.
"""
from stevedore import driver
from stevedore import exception

NAMESPACE = 'dpiaas.detectors'


class UnknownModel(ValueError):
    pass


def model_class(name):
    """The model class registered as ``name`` in ``dpiaas.detectors``."""
    try:
        mgr = driver.DriverManager(NAMESPACE, name, invoke_on_load=False)
    except exception.NoMatches:
        raise UnknownModel('unknown detector model %r: choose one of %s'
                           % (name, ', '.join(available()) or 'none'))
    return mgr.driver


def available():
    from stevedore import extension
    return sorted(extension.ExtensionManager(NAMESPACE).names())
