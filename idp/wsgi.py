"""The WSGI entry point for gunicorn: ``gunicorn --preload 'idp.wsgi:app'``.

Refuses to start on a configuration that cannot work, a database that cannot be reached
or is behind, or a keys folder it cannot use: one line on standard error names the cause
and the IDP_* setting, and the process exits with status 2 (with ``--preload`` that is
gunicorn's own exit status).
"""

import sys

from . import StartupError, build

try:
    app = build()
except StartupError as error:
    sys.stderr.write(f"vhskoop-idp cannot start: {error}\n")
    sys.exit(2)
