"""Use cases. Each public function takes a `UnitOfWork` and does one thing in the domain's words;
the caller (API request, CLI command, job) commits."""
