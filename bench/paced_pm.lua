-- wrk script: GET one project-manager project with a bearer JWT, each connection pausing
-- BENCH_DELAY_MS between requests (10 connections x ~10 ms per cycle = ~1000 req/s).
local token = os.getenv("BENCH_TOKEN")
local path = os.getenv("BENCH_PATH")
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "9")

request = function()
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

delay = function()
  return pause
end
