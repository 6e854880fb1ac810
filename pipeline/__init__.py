"""The newsletter and knowledge-sharing pipeline.

Stages, in the order a run goes through them (``pipeline.run`` writes that order down once):
collect (feeds and submissions into the state database), curate (an editor's issue file),
render (email HTML, plain text, web page), deliver (SendGrid or the outbox), then publish
(the web archive) and report (partner activity).
"""

__version__ = "0.1.0"
USER_AGENT = f"newsletter-pipeline/{__version__} (+https://github.com/kinderarmoede/newsletter-pipeline)"
