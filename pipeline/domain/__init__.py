"""The rules and values every stage shares, with no I/O: the settings and the taxonomy, the issue,
submission and progress-file formats checked as parsed values, approval, plain language (B1), the
typed values that pass between stages, errors, Dutch dates and the message catalogs.

Nothing here imports an adapter (``pipeline.infra``) or a stage; ``import-linter``
(``pyproject.toml``) keeps it that way. Easy to test with plain values.
"""
