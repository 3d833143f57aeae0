-- One authenticated request per call, for wrk.
-- Arguments (after `--`): METHOD PATH TOKEN [IDS_FILE] [BODY]
-- PATH may contain {id}; each request then takes a random line of IDS_FILE for it.
-- BODY may contain {seq}; each request then puts a number there that no other request of the run
-- has (the thread's number and its own count), e.g. for an order's unique reference.
-- done() prints one line, "BENCH_JSON {...}", that bench/wrk.py reads.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

local method, path, body, ids, fixed, seq_body
local sent = 0

-- wrk.init has set the Host header before it calls this.

function init(args)
  method, path = args[1], args[2]
  wrk.headers["Authorization"] = "Bearer " .. args[3]
  body = args[5]
  if body and body ~= "" then
    wrk.headers["Content-Type"] = "application/json"
  else
    body = nil
  end
  ids = {}
  if args[4] and args[4] ~= "" then
    for line in io.lines(args[4]) do
      if line ~= "" then ids[#ids + 1] = line end
    end
  end
  math.randomseed(os.time() * 1000 + thread_no)
  seq_body = body ~= nil and body:find("{seq}", 1, true) ~= nil
  if not path:find("{id}", 1, true) and not seq_body then
    fixed = wrk.format(method, path, nil, body)
  end
end

function request()
  if fixed then return fixed end
  local p = path
  if p:find("{id}", 1, true) then
    p = p:gsub("{id}", ids[math.random(#ids)], 1)
  end
  local b = body
  if seq_body then
    sent = sent + 1
    b = b:gsub("{seq}", thread_no .. "-" .. sent)
  end
  return wrk.format(method, p, nil, b)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non_2xx":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
