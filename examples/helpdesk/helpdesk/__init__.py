"""A small helpdesk built with Flask: the system under test of asyncbdd's adoption guide.

It is written the way a Flask team writes a service, not around asyncbdd: an app
factory, configuration in ``app.config``, SQLAlchemy Core tables, a worker thread.
``POST /tickets`` opens a ticket; the worker then triages it (assigns the agent with the
fewest open tickets), sends an ``assignments`` message to SQS, calls the customer's
callback URL, and writes an audit row at each step, all under the request's
``X-Request-Id``.
"""

from helpdesk.app import create_app

__all__ = ["create_app"]
