"""Use cases, a package per capability (`ledger`, `cards`, `catalog`, `funding`, `orders`,
`delivery`, `webhooks`, `access`, `queue`), with the few helpers they all share beside them
(`runtime`, `events`, `pagination`, `currencies`, `sweep`).

A function's first parameter says what kind it is:

- A **step** takes `uow: UnitOfWork`. It runs inside the caller's transaction and never opens,
  commits or rolls back one, so steps compose: an order issues its cards, charges its buyer and
  records its events in one transaction. The caller (an API request through `http.tx.Tx`, a CLI
  command, a job, a procedure) commits.
- A **procedure** takes `rt: Runtime`. It owns its transactions: it opens and commits its own
  units of work, one or several, because it must (a batch per transaction in a sweep or a
  fulfilment; a short transaction before and after a slow call to the outside world, such as an
  SMTP server or a webhook receiver, that no transaction may be held across; a read that expires
  a due card before it answers).

Reads are pure unless their name says what they record (`reveal_order` records each showing of
a code). Capability packages import each other in one direction only (`lint-imports` checks it):
queue < events < access, ledger < funding, cards < catalog < delivery < orders < webhooks.
"""
