"""A local Adobe Experience Platform (Segmentation Service + IMS) for tests, demos and users' own CI.

Starting it (aep-emulator --help lists every option with its default):

  aep-emulator --host 127.0.0.1 --port 8765 --profiles 10000 --seed 42 --job-step-seconds 2
  aep-emulator demo --dags-folder example_dags    (make demo: the example pipeline on a fresh emulator)

It prints the AIRFLOW_CONN_AEP_DEFAULT that points at it and the id of its export dataset. It serves IMS
(/ims/token/v3, checking the credential it was started with: client id aep-emulator-client, secret
aep-emulator-secret, org EMULATOR0000000000000000@AdobeOrg, sandboxes prod and dev) and all 35
Segmentation operations under /data/core/ups with AEP's status codes, envelopes, pagination and error
bodies; the gateway's header checks (401013, 403010, 403000, 403003, 400003, 403025, missing content
type); per-sandbox isolation; job life cycles that advance with time; schedules that fire at their
Quartz cron times (year, L, W and # included) and AEP's 400 for a cron that can never fire; the
documented 429 when too many segment jobs are processing; and a deterministic synthetic profile store on
which PQL is really evaluated, so counts, previews, estimates and exported batches are real.

Validation, as AEP does it: sort=attr:asc|desc[,...] on definitions, audiences and segment jobs;
Platform audiences need name, expression and schema.name; a definition PATCH is refused when the
definition it would leave behind would be refused by a POST; export filter timestamps are RFC 3339; an
unknown export dataset is a 400 UPLIB-101554-503; an unsupported method gets 405 with Allow; bodies
over max_request_body_bytes get 413 (the emulator's own cap: Adobe documents no body size limit). A
definition that cannot be evaluated when its job runs (tomorrow on 9999-12-31) fails the job: FAILED
with an errors[] entry, as AEP reports a failed job.

Admin routes, under /_emulator/ only. They answer anyone on a loopback address and, when the emulator
listens on any other address, only its credential (curl -u aep-emulator-client:aep-emulator-secret, or
a bearer token from its IMS); that credential is public, so beyond loopback start it with --client-id
and --client-secret of your own (it warns otherwise).
  POST /reset              forget every object, job, token, fault and logged request; the clock, the
                           rules and the history go back to their start-up values
  GET|DELETE /requests     the request log (method, path, status, time, request id, sandbox, fault)
  POST|DELETE /faults      for a method and path: {"kind": "status", "status": 429, "retry_after": 2},
                           500/502/503/504, "html": true, {"kind": "drop"}, {"kind": "latency",
                           "latency_seconds": 0.5}; "after": true performs the request first and then
                           loses the answer; by count or seeded probability
  POST /tokens/expire
  PATCH /settings          job_step_seconds (2.0), token_lifetime_seconds (86399),
                           max_processing_segment_jobs (10), fail_segment_jobs (false),
                           fail_export_jobs (false), capture_bodies (false: the request log keeps
                           bodies and headers), max_job_bulk_get_ids (1500), max_request_body_bytes
                           (10485760), rules {...} (AEP's rules, below), history {...} (below); a value
                           of the wrong type or range is a 400 naming it; the answer shows them all
  GET|POST /clock          {"advance_seconds": 3600, "frozen": true}: step the clock that jobs,
                           schedules, tokens, evaluations and answers' dates follow, instead of sleeping
  GET /datasets, GET /datasets/{id}/batches/{batchId}, POST /schedules/{id}/trigger

History: the profile store changes from one emulator day to the next, so size histories are a real
series with a real anomaly (PATCH /settings {"history": {...}}, or the --growth-per-day,
--churn-per-day and --ingestion-drop options; a reset restores the start-up values):
  growth_per_day (0)       new profiles a day, as a share of the starting ones (0.005: +0.5 %/day)
  churn_per_day (0)        starting profiles that leave a day, same unit (0.003: -0.3 %/day)
  start_day (null)         the UTC day the store holds --profiles (null: the emulator's first day)
  ingestion_drop (null)    {"day": "2026-12-10", "fraction": 0.9}, {"from_day": ..., "fraction": ...}
                           or a list: on those days evaluations see only 1 - fraction of the profiles,
                           as after a broken ingestion
Day N after start_day holds min(P + floor(P * growth * N), 1,000,000) - min(P, floor(P * churn * N))
profiles (P = --profiles; linear, not compound), round(size * (1 - fraction)) on a drop day. Jobs,
previews, estimates and exports see the population of the emulator day they finish on, with events
within the 90 days before that instant; the same seed, settings and day give the same profiles after a
restart. Both rates default to 0 so that counts stay put when tests step the clock; make demo turns
them on.

In your own tests:

  from airflow_provider_segmentation.emulator.server import EmulatorServer
  from airflow_provider_segmentation.emulator.settings import EmulatorSettings

  with EmulatorServer(EmulatorSettings(port=0, job_step_seconds=0.05)) as aep:
      monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", aep.connection_json(sandbox="prod"))
      ...  # run your operators or DAGs against aep.url

Synthetic profiles: person.name.firstName/lastName, person.birthDate, person.birthYear, person.gender,
homeAddress and workAddress (country, countryCode, stateProvince, city), personalEmail.address,
loyalty.tier (bronze, silver, gold, platinum) and loyalty.points, identityMap (ECID, Email, and CRMID
for 60 %), consents.marketing.email.val (y/n), and 0-11 ExperienceEvents (xEvent) over the last 90 days:
eventType in web.webpagedetails.pageViews, commerce.productViews, commerce.productListAdds,
commerce.purchases (with commerce.order.priceTotal and currencyCode), directMarketing.emailOpened,
directMarketing.emailClicked; commerce events carry productListItems[{SKU, name, priceTotal, quantity}].
"""
