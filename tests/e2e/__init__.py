"""End-to-end suite: a real Airflow 3 deployment against the AEP emulator (see conftest.py)."""
