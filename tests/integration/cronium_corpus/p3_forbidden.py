# Cronium-style: a job that uses another execution's id gets CroniumAPIError 403.
import os

own = os.environ["CRONIUM_EXECUTION_ID"]
os.environ["CRONIUM_EXECUTION_ID"] = "exe_" + "b" * 26
os.environ.pop("JOBCELL_EXECUTION_ID", None)
import cronium  # noqa: E402

try:
    cronium.event()
    result = {"status_code": None}
except cronium.CroniumAPIError as e:
    result = {"status_code": e.status_code, "message": e.message}
# report through a fresh client with the job's own id
os.environ["CRONIUM_EXECUTION_ID"] = own
cronium.Cronium().output(result)
