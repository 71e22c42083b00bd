-- wrk at a fixed rate without wrk2. Each thread hands out send slots at a
-- fixed interval (PACE_MS / PACE_CONNS, PACE_CONNS being the connections of
-- one thread) on the wall clock: delay() gives a connection that is ready
-- the time until the thread's next free slot, so the offered rate stays at
-- PACE_CONNS * threads * 1000 / PACE_MS however long the answers take (as
-- long as an answer takes less than PACE_MS). A fixed delay would offer
-- less by the time of each answer. Latency is wrk's, measured from send to
-- answer (no correction for coordinated omission, which wrk2 would make).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } custos_timespec;
int clock_gettime(int clk, custos_timespec *ts);
]]
local ts = ffi.new("custos_timespec")
local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local pace = tonumber(os.getenv("PACE_MS") or "50")
local conns = tonumber(os.getenv("PACE_CONNS") or "1")
local interval = pace / conns
local start, slots = nil, 0

function delay()
    local t = now_ms()
    if start == nil then start = t end
    slots = slots + 1
    local due = start + slots * interval
    if due < t then
        -- Far behind (a stall): start the schedule again from now rather
        -- than send a burst to catch up.
        if t - due > pace then start, slots = t, 0 end
        return 0
    end
    return due - t
end
