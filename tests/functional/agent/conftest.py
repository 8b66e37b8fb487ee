from tests.functional.rabbitmq import rabbitmq_url  # noqa: F401 (fixture)
