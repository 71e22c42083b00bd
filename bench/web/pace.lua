-- wrk at a fixed rate without wrk2: each connection waits PACE_MS between
-- its requests (wrk's delay() hook), so C connections offer C * 1000 /
-- PACE_MS requests per second at most (less by the time each answer takes).
-- Latency is wrk's, measured from send to answer (no correction for
-- coordinated omission, which wrk2 would make).
local pace = tonumber(os.getenv("PACE_MS") or "50")
function delay()
    return pace
end
