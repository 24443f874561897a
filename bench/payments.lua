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
-- balance runs out. The ring's requests are built once in init() (and only the keyed run
-- formats one per request), and there is no response() callback: with one, wrk hands every
-- answer's headers and body to Lua, which cost the client more CPU than tallyd's HTTP layer
-- (both share the machine). Every answer is a 201 or an error status, so ok = the answers
-- wrk did not count as non-2xx/3xx. done() prints one line that the shell script parses:
--   RESULT rps=.. ok_rps=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. requests=.. ok=..
--          statuses=201:n,non2xx:n socket_errors=..

local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("id", threads)
end

local users = {}
local user_count = 0
local counter = 0
local keyed = os.getenv("TALLY_BENCH_IDEMPOTENCY") == "1"
local run = os.getenv("TALLY_BENCH_RUN") or "run"
local ring = {}

-- The request from user i to the next user in the ring, with key as its Idempotency-Key.
local function payment(i, key)
    local from = users[i]
    local to = users[(i % user_count) + 1]
    local headers = {
        ["Authorization"] = "Bearer " .. from.token,
        ["Content-Type"] = "application/json",
    }
    if key then
        headers["Idempotency-Key"] = key
    end
    local body = '{"to": "@' .. to.handle .. '", "amount": 1, "currency": "USD"}'
    return wrk.format("POST", "/v1/payments", headers, body)
end

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
    for i = 1, user_count do
        ring[i] = payment(i, nil)
    end
    counter = (id or 1) * 7919
end

function request()
    counter = counter + 1
    local i = (counter % user_count) + 1
    if keyed then
        return payment(i, string.format("bench-%s-%d-%d", run, id or 1, counter))
    end
    return ring[i]
end

function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local errors = summary.errors
    local ok = summary.requests - errors.status
    local statuses = string.format("201:%d", ok)
    if errors.status > 0 then
        statuses = statuses .. string.format(",non2xx:%d", errors.status)
    end
    io.write(string.format(
        "RESULT rps=%.0f ok_rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
        "requests=%d ok=%d statuses=%s socket_errors=%d\n",
        summary.requests / seconds, ok / seconds,
        latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000,
        summary.requests, ok, statuses,
        errors.connect + errors.read + errors.write + errors.timeout))
end
