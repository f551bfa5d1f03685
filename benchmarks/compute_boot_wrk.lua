-- wrk script of benchmarks/compute_boot.py: each wrk thread has one connection (-t N -c N),
-- so a thread's Lua state is one client running Rally's boot-and-delete loop: POST
-- /servers, GET it every BD_POLL_MS until ACTIVE with no task, DELETE it, GET it until 404.
-- Globals (not locals) so that done() can read each thread's counters with thread:get().
local token = os.getenv("BD_TOKEN")
local body = os.getenv("BD_BODY")
local prefix = os.getenv("BD_PREFIX")
local poll_ms = tonumber(os.getenv("BD_POLL_MS") or "50")
local hdr = {["X-Auth-Token"] = token, ["Content-Type"] = "application/json",
             ["OpenStack-API-Version"] = "compute 2.79"}
step, sid, wait = "post", nil, 0
ops, polls, errors, last_error = 0, 0, 0, ""

request = function()
  if step == "post" then return wrk.format("POST", prefix .. "/servers", hdr, body) end
  if step == "delete" then return wrk.format("DELETE", prefix .. "/servers/" .. sid, hdr) end
  return wrk.format("GET", prefix .. "/servers/" .. sid, hdr)
end

delay = function()
  local d = wait
  wait = 0
  return d
end

local function fail(status, text)
  errors = errors + 1
  last_error = status .. " " .. string.sub(text or "", 1, 300)
  step, wait = "post", poll_ms
end

response = function(status, headers, text)
  if step == "post" then
    if status ~= 202 then return fail(status, text) end
    sid = string.match(text, '"id"%s*:%s*"([^"]+)"')
    step = "active"
  elseif step == "active" then
    polls = polls + 1
    if status ~= 200 or string.find(text, '"status"%s*:%s*"ERROR"') then
      return fail(status, text)
    end
    if string.find(text, '"status"%s*:%s*"ACTIVE"')
        and string.find(text, '"OS%-EXT%-STS:task_state"%s*:%s*null') then
      step = "delete"
    else
      wait = poll_ms
    end
  elseif step == "delete" then
    if status ~= 204 then return fail(status, text) end
    step = "gone"
  else
    polls = polls + 1
    if status == 404 then
      ops = ops + 1
      step = "post"
    else
      wait = poll_ms
    end
  end
end

local threads = {}
setup = function(thread) table.insert(threads, thread) end

done = function(summary, latency, requests)
  local o, p, e, last = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    o, p, e = o + t:get("ops"), p + t:get("polls"), e + t:get("errors")
    if t:get("last_error") ~= "" then last = t:get("last_error") end
  end
  io.write(string.format("BDRESULT ops=%d polls=%d errors=%d requests=%d duration_us=%d "
                         .. "p50_us=%d p99_us=%d\n", o, p, e, summary.requests,
                         summary.duration, latency:percentile(50), latency:percentile(99)))
  if last ~= "" then io.write("BDLASTERROR " .. last .. "\n") end
end
