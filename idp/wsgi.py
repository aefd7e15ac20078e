"""The WSGI entry point for gunicorn: ``gunicorn 'idp.wsgi:app'``.

Refuses to start on a database that is behind or a keys folder it cannot read.
"""

from . import create_app, prepare

app = create_app()
prepare(app)
