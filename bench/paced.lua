-- wrk script: GET one federation project with the API key, each connection pausing between
-- requests so that the total rate is about BENCH_RATE requests per second.
local key = os.getenv("BENCH_API_KEY")
local rate = tonumber(os.getenv("BENCH_RATE") or "1000")
local connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "4")
local slugs = tonumber(os.getenv("BENCH_PROJECTS") or "10000")
local counter = 0

request = function()
  counter = counter + 1
  local path = string.format("/api/fed/projects/p-%05d", (counter * 7919) % slugs)
  return wrk.format("GET", path, { ["X-API-Key"] = key })
end

delay = function()
  return math.floor(1000 * connections / rate)
end
