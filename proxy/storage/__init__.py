"""Storage: the one database interface, SQLite and PostgreSQL behind it, numbered migrations, and the store.

database.py is the interface and backends.py picks the backend by location;
sqlite_db.py (with sqlite_inline.py, sqlite_errors.py) and postgres_db.py
implement it, transactions.py gives both their units of work, migrations.py
(with migrations_later.py) the schema. store.py writes every SQL statement of a request (its parts:
store_sessions.py, store_keys.py, sharing records.py); reports.py the
aggregates the dashboard and /metrics read, retention.py folds old detail into
daily totals; owner.py says which process holds a reservation.

May import: proxy (errors, config, chat).
"""
