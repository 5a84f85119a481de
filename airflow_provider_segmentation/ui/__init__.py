"""The "AEP audiences" page in Airflow's UI: an Airflow plugin that the package's
``airflow.plugins`` entry point registers.

``plugin`` (cheap to import: every Airflow process imports it) declares the FastAPI app, mounted by the
api-server at ``/aep-audiences``, and on Airflow 3.1+ a navigation entry; ``api`` builds that app
(auth, JSON endpoints, the static page); ``overview`` reads AEP and Airflow's metadata database;
``cache`` keeps those reads bounded.
"""
