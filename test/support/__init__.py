"""Test support shared by the suite (import as ``support.<module>``: test/ is on sys.path)."""
