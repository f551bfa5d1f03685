"""Remote consoles: the console auth tokens (Nova's console_auth_tokens table) and the
console proxies that check them (nova-novncproxy on 6080, nova-serialproxy on 6083)."""
