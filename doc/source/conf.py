# Documentation of dpiaas; built by ``tox -e docs``.
import os
import sys

sys.path.insert(0, os.path.abspath('../..'))

extensions = [
    'openstackdocstheme',
    'oslo_config.sphinxconfiggen',
    'oslo_config.sphinxext',
    'oslo_policy.sphinxpolicygen',
    'oslo_policy.sphinxext',
]

# the sample files the configuration reference shows, generated at build
config_generator_config_file = [
    ('../../etc/dpiaas/dpiaas-config-generator.conf',
     '_static/dpiaas'),
]
policy_generator_config_file = [
    ('../../etc/dpiaas/dpiaas-policy-generator.conf', '_static/dpiaas'),
]

openstackdocs_repo_name = 'x/dpiaas'
openstackdocs_bug_project = 'dpiaas'
openstackdocs_bug_tag = 'doc'
openstackdocs_auto_name = False

project = 'dpiaas'
copyright = '2025, dpiaas developers'
source_suffix = '.rst'
master_doc = 'index'
exclude_patterns = []
pygments_style = 'native'
html_theme = 'openstackdocs'
html_static_path = ['_static']
