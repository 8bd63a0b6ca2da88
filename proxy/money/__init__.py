"""Money: prices, estimates, the meter, the budget and its reservations, and what was spent.

pricing.py prices a call; estimate.py estimates its tokens and learns from real
ones; budget.py keeps the day's ledger, tiers and reservations; meter.py runs
one call's money (estimate, reserve, settle, learn); reconcile.py asks
OpenRouter what calls in flight at a crash cost; keys.py says whose budget a
team key draws on; preferences.py holds the settings a user changes while
Hermes runs; budget_report.py is what `hermes budget` prints.

May import: proxy (errors, config, chat), storage, upstreams.
"""
