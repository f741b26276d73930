# Cronium-style: a tool action's clean 501, and a counter across runs.
import time

import cronium

t0 = time.time()
try:
    cronium.send_email("ops@example.com", "subject", "body")
    tool = None
except cronium.CroniumAPIError as e:
    tool = e.status_code
n = (cronium.get_variable("p_counter") or 0) + 1
cronium.set_variable("p_counter", n)
cronium.output({"tool_status": tool, "fast": time.time() - t0 < 2, "run": n})
