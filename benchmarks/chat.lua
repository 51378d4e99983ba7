-- wrk script: POST a ~300-byte OpenAI chat completion body, report JSON stats at the end.
--   wrk -t1 -c50 -d5s -s benchmarks/chat.lua http://127.0.0.1:PORT/v1/chat/completions
-- BENCH_BODY_FILE=benchmarks/requests/openai_stream.json sends that file's bytes instead
-- (bench.py uses benchmarks/requests/*.json for every workload).
-- No response() hook on purpose: defining one makes wrk hand every response to Lua, which costs
-- client CPU and would lower the ceiling we are trying to measure.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a concise assistant ' ..
  'used for gateway benchmarks."},{"role":"user","content":"Summarise the benefits of connection ' ..
  'pooling for an HTTP reverse proxy in two short sentences, please."}],"max_tokens":64,' ..
  '"temperature":0.2,"stream":false,"user":"bench"}'
wrk.headers["anthropic-version"] = "2023-06-01"  -- needed on /v1/messages, ignored elsewhere
wrk.headers["x-user-id"] = "bench-user"          -- identity for the budget (trustHeaders) config
wrk.headers["x-team-id"] = "bench-team"

local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
end

-- One line, prefixed so bench.py can find it among wrk's own report. Latencies are in
-- microseconds in wrk; we convert to milliseconds. wrk's errors.status counts responses with
-- status >= 400 (it does not count 3xx), which is what we report as "non_2xx".
function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_s":%.6f,"rps":%.2f,"bytes":%d,' ..
    '"p50_ms":%.4f,"p90_ms":%.4f,"p99_ms":%.4f,"mean_ms":%.4f,"max_ms":%.4f,' ..
    '"non_2xx":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d}\n',
    summary.requests, secs, summary.requests / secs, summary.bytes,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, latency.max / 1000,
    e.status, e.connect, e.read, e.write, e.timeout))
end
