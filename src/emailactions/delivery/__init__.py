"""How a finished message leaves: the transport pool, synchronous retries, rate limits,
one-message-per-recipient bulk sends, and the durable outbox with its workers."""
