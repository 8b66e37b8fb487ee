"""Where the read-only shared material is: ``../shared`` beside the
repository (as on developers' machines and in CI), or $DPIAAS_SHARED."""
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get('DPIAAS_SHARED') or os.path.normpath(
    os.path.join(REPO, '..', 'shared'))
PCAPS = os.environ.get('DPIAAS_PCAPS') or os.path.join(SHARED, 'data',
                                                       'pcaps')
