"""Storage adapter: SQLAlchemy tables, engine, unit of work, repositories, migrations, and
the hotline's turn stores (`turn_store_sql`, `turn_store_pg`: the `TurnStore` port of
`callcenter.hotline.ports`); every INSERT into the turn tables is in `inserts`."""
