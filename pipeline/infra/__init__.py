"""The adapters: one module (or package) per outside thing, above the rules in ``pipeline.domain``:
the state database (``store``: SQLite or PostgreSQL), the instance's files (``instance``,
``yamlfile``, ``files``, ``subscribers``, ``validate``), HTTP fetching (``fetch``, ``retry``),
SendGrid and the outbox, the web layer (``web``, ``connections``), locks, the templates.

Nothing here imports a stage; ``import-linter`` (``pyproject.toml``) keeps it that way.
"""
