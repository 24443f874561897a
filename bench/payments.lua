-- payments.lua - wrk script for bench/http_payments.sh: authenticated POST /v1/payments over
-- keep-alive connections.
--
-- Environment:
--   TALLY_BENCH_USERS        file of "TOKEN HANDLE" lines (one signed-in, funded user each)
--   TALLY_BENCH_IDEMPOTENCY  "1": every request carries a new Idempotency-Key
--   TALLY_BENCH_RUN          a word that makes this run's Idempotency-Keys unique
--
-- Each request pays 1 minor unit from one user to the next in a ring, and every wrk thread
-- starts at a different place in it, so each user sends about as much as it receives and no
-- balance runs out. done() prints one line that the shell script parses:
--   RESULT rps=.. ok_rps=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. requests=.. ok=..
--          statuses=201:n,422:n socket_errors=..

local threads = {}

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

local users = {}
local user_count = 0
local counter = 0
local keyed = os.getenv("TALLY_BENCH_IDEMPOTENCY") == "1"
local run = os.getenv("TALLY_BENCH_RUN") or "run"
statuses = {}

function init(args)
    local path = os.getenv("TALLY_BENCH_USERS")
    for line in io.lines(path) do
        local token, handle = line:match("^(%S+)%s+(%S+)$")
        if token then
            user_count = user_count + 1
            users[user_count] = { token = token, handle = handle }
        end
    end
    assert(user_count >= 2, "payments.lua: need at least two users in " .. tostring(path))
    counter = (id or 1) * 7919
end

function request()
    counter = counter + 1
    local from = users[(counter % user_count) + 1]
    local to = users[((counter + 1) % user_count) + 1]
    local headers = {
        ["Authorization"] = "Bearer " .. from.token,
        ["Content-Type"] = "application/json",
    }
    if keyed then
        headers["Idempotency-Key"] = string.format("bench-%s-%d-%d", run, id or 1, counter)
    end
    local body = '{"to": "@' .. to.handle .. '", "amount": 1, "currency": "USD"}'
    return wrk.format("POST", "/v1/payments", headers, body)
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local codes = {}
    for _, thread in ipairs(threads) do
        local counts = thread:get("statuses")
        for code, n in pairs(counts) do
            codes[code] = (codes[code] or 0) + n
        end
    end
    local keys = {}
    for code, _ in pairs(codes) do
        table.insert(keys, code)
    end
    table.sort(keys)
    local parts = {}
    for _, code in ipairs(keys) do
        table.insert(parts, string.format("%d:%d", code, codes[code]))
    end
    local seconds = summary.duration / 1e6
    local errors = summary.errors
    local ok = codes[201] or 0
    io.write(string.format(
        "RESULT rps=%.0f ok_rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
        "requests=%d ok=%d statuses=%s socket_errors=%d\n",
        summary.requests / seconds, ok / seconds,
        latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000,
        summary.requests, ok, table.concat(parts, ","),
        errors.connect + errors.read + errors.write + errors.timeout))
end
