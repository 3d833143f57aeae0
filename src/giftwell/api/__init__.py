"""HTTP surfaces: the native API (v1), and the mount points of the dialects and pages."""
