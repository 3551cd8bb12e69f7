"""Storage: tables, engines, migrations and the repository the dispatcher writes through."""
