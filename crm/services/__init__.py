"""Use cases: `async def verb(cmd, uow)` doing `async with uow:` ... `await uow.commit()`."""
