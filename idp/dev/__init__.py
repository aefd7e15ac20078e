"""For trying the provider out and testing it, never imported by the running provider:
the demo (data, a relying party, a mailbox) and simulators of systems we do not run
(itm:PORTAL's password API, itm:CONNECT). ``vhskoop-idp demo``, ``portal-sim`` and
``itm-connect-sim`` start them."""
