"""Storage adapter: SQLAlchemy tables, engine, unit of work, repositories, migrations."""
