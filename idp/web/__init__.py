"""The web edge: everything that knows a request. The pages (``views``), the console
(``admin``), the OAuth 2 and OpenID Connect endpoints on Authlib's server (``protocol``,
``oauth``, ``grants``, ``endpoints``, ``prompts``), the browser's side of signing in and out
(``signin``), and what stands in front of them (``front``, ``guard``, ``health``, ``i18n``,
``limits``, ``throttle``).

The domain below (the rest of ``idp``) never imports it: values go in, values come out.
The app factory wires it into the app; the import contracts in setup.cfg keep the rest.
"""
