-- wrk script: GET one federation project with the API key, each connection pausing
-- BENCH_DELAY_MS between requests (10 connections x ~10 ms per cycle = ~1000 req/s).
local key = os.getenv("BENCH_API_KEY")
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "9")
local slugs = tonumber(os.getenv("BENCH_PROJECTS") or "10000")
local counter = 0

request = function()
  counter = counter + 1
  local path = string.format("/api/fed/projects/p-%05d", (counter * 7919) % slugs)
  return wrk.format("GET", path, { ["X-API-Key"] = key })
end

delay = function()
  return pause
end
