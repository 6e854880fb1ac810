"""What every stage shares, below the stages: settings and schema, YAML reading and writing, the
state database, files and locks, markup, models, errors, Dutch dates, the one Jinja environment,
the per-recipient tokens, and the narrow modules for the outside world (HTTP, SendGrid, the outbox).

Nothing here imports a stage; ``import-linter`` (``pyproject.toml``) keeps it that way.
"""
