"""The exported dataset's tables and data card (pure polars / matplotlib)."""
