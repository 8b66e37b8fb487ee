# API reference of dpiaas (os-api-ref); built by ``tox -e api-ref``.
import os
import sys

sys.path.insert(0, os.path.abspath('../../'))

extensions = [
    'os_api_ref',
    'openstackdocstheme',
]

# openstackdocstheme
openstackdocs_repo_name = 'x/dpiaas'
openstackdocs_bug_project = 'dpiaas'
openstackdocs_bug_tag = 'api-ref'
openstackdocs_auto_name = False

html_theme = 'openstackdocs'
html_theme_options = {
    'sidebar_mode': 'toc',
}

project = 'dpiaas'
copyright = '2025, dpiaas developers'
source_suffix = '.rst'
master_doc = 'index'
exclude_patterns = []
pygments_style = 'native'
html_static_path = []
