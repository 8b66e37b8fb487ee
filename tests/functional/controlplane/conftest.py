from tests.functional.dbservers import postgresql_server  # noqa: F401
from tests.functional.rabbitmq import rabbitmq_url  # noqa: F401
