"""Bulk import of historical complaints from CSV/XLSX (streaming, idempotent, all-or-nothing)."""
