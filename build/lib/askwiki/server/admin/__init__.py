"""The admin API: routes, their schemas, the job runner, upload spooling."""
