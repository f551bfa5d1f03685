-- wrk script of benchmarks/metadata.py: every request comes from a random one of the
-- simulated instances (X-Forwarded-For), through the network's proxy header. The
-- requests are built once (init), so that wrk spends its time on the sockets, not in Lua;
-- no response() hook (wrk counts non-2xx/3xx answers itself, as status errors).
local ips = {}
for line in io.lines(os.getenv("MD_IPS")) do ips[#ips + 1] = line end
local net = os.getenv("MD_NET")
local close = os.getenv("MD_CLOSE") == "1"
local paths = {"/latest/meta-data/hostname", "/openstack/latest/meta_data.json",
               "/latest/meta-data/", "/latest/user-data", "/openstack/latest/network_data.json",
               "/latest/meta-data/public-keys/0/openssh-key", "/latest/meta-data/local-ipv4"}
local prebuilt = {}
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  for i = 1, 8192 do
    local headers = {["X-Forwarded-For"] = ips[math.random(#ips)],
                     ["X-Neutron-Network-ID"] = net}
    if close then headers["Connection"] = "close" end
    prebuilt[i] = wrk.format("GET", paths[math.random(#paths)], headers)
  end
end
request = function()
  return prebuilt[math.random(8192)]
end
done = function(summary, latency, requests)
  io.write(string.format("MDRESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d "
                         .. "non200=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
