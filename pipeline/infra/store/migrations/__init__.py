"""The migrations as released, one list per engine: ``sqlite`` (``MIGRATIONS``, from 1) and
``postgres`` (``POSTGRES``, from 8), with the SQL both add alike in ``shared``;
``pipeline.infra.store.schema`` applies them."""

from pipeline.infra.store.migrations.postgres import POSTGRES
from pipeline.infra.store.migrations.sqlite import MIGRATIONS

__all__ = ["MIGRATIONS", "POSTGRES"]
