-- wrk script for bench/overload.py: POST one JSON body over and over, count statuses.
-- usage: wrk ... -s bench/overload.lua URL -- BODY_FILE
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  wrk.headers["Content-Type"] = "application/json"
  file:close()
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  io.write("STATUSES")
  for status, count in pairs(totals) do
    io.write(string.format(" %d=%d", status, count))
  end
  io.write(string.format("\nSUMMARY requests=%d duration_us=%d errors_timeout=%d errors_connect=%d\n",
    summary.requests, summary.duration, summary.errors.timeout, summary.errors.connect))
end
