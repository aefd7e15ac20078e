"""Verwaltungsprogramm adapters and what they share with the provider (address cleaning).

Nothing here imports Flask or ``idp``: an adapter can ship as its own package.
"""
