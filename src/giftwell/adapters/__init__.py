"""Outbound I/O behind small interfaces: email (SMTP, or files in the mail folder), SMS (an HTTP
gateway in Twilio's shape, or files in the mail folder). Adapters import only the domain; services
choose and call them, never inside a transaction."""
