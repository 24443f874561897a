-- quotes.lua - wrk script for bench/http_payments.sh: the quote -> payment path. Each payment
-- is two authenticated requests over keep-alive: POST /v1/quotes {operation "p2p", amount,
-- currency, recipient} (the exact fee and what arrives), then POST /v1/payments with that
-- quote_id, which executes exactly at the quoted terms.
--
-- Environment:
--   TALLY_BENCH_USERS   file of "TOKEN HANDLE" lines (one signed-in, funded user each)
--   TALLY_BENCH_AMOUNT  minor units per payment (default 100)
--
-- wrk calls request() for whichever connection is free, so a thread keeps a queue of the
-- quotes it has been given: a request pays the oldest waiting quote, or asks for a new quote
-- when none waits. The payer of a quote is found from its recipient: user i always pays user
-- i + 1 around the ring. done() prints the line the shell script parses (ok = payments that
-- answered 201; quotes are counted apart):
--   RESULT rps=.. ok_rps=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. requests=.. ok=..
--          statuses=201:n,409:n quotes=.. socket_errors=..
-- The latency figures are per request, quotes and payments together.

local threads = {}

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

local users = {}
local index_of = {}
local user_count = 0
local counter = 0
local amount = tonumber(os.getenv("TALLY_BENCH_AMOUNT") or "100")
local waiting = {}
local head, tail = 1, 0
statuses = {}
quotes = 0
payments = 0

function init(args)
    local path = os.getenv("TALLY_BENCH_USERS")
    for line in io.lines(path) do
        local token, handle = line:match("^(%S+)%s+(%S+)$")
        if token then
            user_count = user_count + 1
            users[user_count] = { token = token, handle = handle }
            index_of[handle] = user_count
        end
    end
    assert(user_count >= 2, "quotes.lua: need at least two users in " .. tostring(path))
    counter = (id or 1) * 7919
end

local function post(path, token, body)
    return wrk.format("POST", path, {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
    }, body)
end

function request()
    if head <= tail then
        local q = waiting[head]
        waiting[head] = nil
        head = head + 1
        local from = users[q.payer]
        local to = users[(q.payer % user_count) + 1]
        return post("/v1/payments", from.token, string.format(
            '{"to": "@%s", "amount": %d, "currency": "USD", "quote_id": "%s"}',
            to.handle, amount, q.id))
    end
    counter = counter + 1
    local payer = (counter % user_count) + 1
    local to = users[(payer % user_count) + 1]
    return post("/v1/quotes", users[payer].token, string.format(
        '{"operation": "p2p", "amount": %d, "currency": "USD", "recipient": "@%s"}',
        amount, to.handle))
end

function response(status, headers, body)
    local quote = body:match('^{"id":%s*"(quo_[^"]+)"')
    if quote then
        quotes = quotes + 1
        local handle = body:match('"recipient":%s*{[^}]-"handle":%s*"([^"]+)"')
        local to = handle and index_of[handle]
        if status == 201 and to then
            tail = tail + 1
            waiting[tail] = { id = quote, payer = ((to - 2) % user_count) + 1 }
        end
        return
    end
    payments = payments + 1
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local codes = {}
    local quote_count = 0
    for _, thread in ipairs(threads) do
        for code, n in pairs(thread:get("statuses")) do
            codes[code] = (codes[code] or 0) + n
        end
        quote_count = quote_count + thread:get("quotes")
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
        "requests=%d ok=%d statuses=%s quotes=%d socket_errors=%d\n",
        summary.requests / seconds, ok / seconds,
        latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000,
        summary.requests, ok, table.concat(parts, ","), quote_count,
        errors.connect + errors.read + errors.write + errors.timeout))
end
