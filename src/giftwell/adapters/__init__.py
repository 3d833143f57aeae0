"""Outbound I/O behind small interfaces: email (SMTP, or files in the outbox), SMS (an HTTP
gateway in Twilio's shape, or files in the outbox). Adapters import only the domain; services
choose and call them, never inside a transaction."""
