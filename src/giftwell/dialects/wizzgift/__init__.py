"""WizzGift B2B dialect (seed 000). For now only its order webhook body (`webhook.py`); the
`/api/b2b/...` routes come with their own issue."""
