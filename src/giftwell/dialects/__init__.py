"""Vendor dialects: each a sibling package with its own routes, schemas and error envelope,
translating a vendor's wire format to the same services. None imports another."""
