"""A fleet for the benchmark drivers: the real binaries on free loopback ports over fs storage
in one work directory, and a keep-alive client for the gateway."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

SERVICES = ["storaged", "catalogd", "ingestd", "queryd", "vectord", "gateway"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def multipart_file(path, filename):
    """A streamed multipart/form-data body of one file field: (body iterator, headers)."""
    boundary = "bench-" + uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk
        yield tail

    length = len(head) + os.path.getsize(path) + len(tail)
    return body(), {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(length)}


class Fleet:
    def __init__(self, bin_dir, work, sections=None):
        self.bin, self.work, self.token = bin_dir, work, uuid.uuid4().hex
        self.ports = {s: free_port() for s in SERVICES}
        url = {s: f"http://127.0.0.1:{p}" for s, p in self.ports.items()}
        more = lambda s: (sections or {}).get(s, "")
        self.config = os.path.join(work, "lakehouse.toml")
        with open(self.config, "w") as f:
            f.write(f"""
[common]
log_format = "json"
[auth]
token = "{self.token}"
[gateway]
bind = "127.0.0.1:{self.ports['gateway']}"
storaged_url = "{url['storaged']}"
catalogd_url = "{url['catalogd']}"
ingestd_url = "{url['ingestd']}"
queryd_url = "{url['queryd']}"
vectord_url = "{url['vectord']}"
upstream_timeout_ms = 600000
[storaged]
bind = "127.0.0.1:{self.ports['storaged']}"
root = "{work}/objects"
[catalogd]
bind = "127.0.0.1:{self.ports['catalogd']}"
storaged_url = "{url['storaged']}"
{more('catalogd')}
[ingestd]
bind = "127.0.0.1:{self.ports['ingestd']}"
storaged_url = "{url['storaged']}"
catalogd_url = "{url['catalogd']}"
tmp_dir = "{work}/ingest-tmp"
[queryd]
bind = "127.0.0.1:{self.ports['queryd']}"
storaged_url = "{url['storaged']}"
catalogd_url = "{url['catalogd']}"
vectord_url = "{url['vectord']}"
cache_dir = "{work}/cache"
[vectord]
bind = "127.0.0.1:{self.ports['vectord']}"
storaged_url = "{url['storaged']}"
catalogd_url = "{url['catalogd']}"
""")
        self.procs = {}
        self.gw = None

    def start(self, name):
        log = open(os.path.join(self.work, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen([os.path.join(self.bin, name), "--config", self.config],
                                            stdout=log, stderr=log, cwd=self.work)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.ports[name], timeout=2)
                c.request("GET", "/ready")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        sys.exit(f"{name} did not become ready; see {self.work}/{name}.log")

    def start_all(self):
        for s in SERVICES:
            self.start(s)
        self.gw = http.client.HTTPConnection("127.0.0.1", self.ports["gateway"], timeout=600)

    def stop(self, name):
        p = self.procs.pop(name)
        p.send_signal(signal.SIGTERM)
        p.wait(30)

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name)

    def peak_rss_mib(self, name):
        for line in open(f"/proc/{self.procs[name].pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def call(self, method, path, body=None, headers=None):
        h = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        self.gw.request(method, path, body=body, headers=h)
        r = self.gw.getresponse()
        data = r.read()
        if r.status >= 300:
            sys.exit(f"{method} {path} -> {r.status} {data[:500]!r}")
        return json.loads(data) if data else None

    def ingest(self, name, csv_text, mode="append"):
        boundary = "bench-" + uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n"
                f"Content-Type: text/csv\r\n\r\n{csv_text}\r\n--{boundary}--\r\n").encode()
        return self.call("POST", f"/v1/ingest?name={name}&mode={mode}", body,
                         {"Content-Type": f"multipart/form-data; boundary={boundary}"})
