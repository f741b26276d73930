-- wrk script: GET /health (no auth, a static answer): the baseline.
-- Same output format as get_variable.lua.

request = function()
  return wrk.format("GET", "/health")
end

local bad = 0
response = function(status)
  if status ~= 200 then
    bad = bad + 1
  end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non200=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout, summary.errors.status, summary.duration,
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99)))
end
