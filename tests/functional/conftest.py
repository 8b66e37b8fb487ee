"""Fixtures shared by the functional tests of every area."""
from tests.functional.openstack_stack import openstack_stack  # noqa: F401
