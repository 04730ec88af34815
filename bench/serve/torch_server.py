#!/usr/bin/python3
"""The Python peer of bench/serve/run.sh: the same MLP (weights from train.py or
aios-bench-mkmodel's JSON) in PyTorch behind http.server.ThreadingHTTPServer, speaking
the same KServe V1 predict protocol as aios-serve.
usage: torch_server.py WEIGHTS.json PORT NAME
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

def build(path):
    doc = json.load(open(path))
    mods = []
    for i, l in enumerate(doc["layers"]):
        lin = torch.nn.Linear(l["in"], l["out"])
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(l["w"]).reshape(l["out"], l["in"]))
            lin.bias.copy_(torch.tensor(l["b"]))
        mods.append(lin)
        if i < len(doc["layers"]) - 1:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods).eval()

def main():
    net = build(sys.argv[1])
    port, name = int(sys.argv[2]), sys.argv[3]
    path = f"/v1/models/{name}:predict"
    torch.set_num_threads(1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like wrk expects

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != path:
                return self.reply(404, {"error": f"no route {self.path}"})
            try:
                x = torch.tensor(json.loads(body)["instances"], dtype=torch.float32)
            except Exception as e:
                return self.reply(400, {"error": str(e)})
            with torch.no_grad():
                y = net(x)
            preds = y[:, 0].tolist() if y.shape[1] == 1 else y.tolist()
            self.reply(200, {"predictions": preds})

        def reply(self, code, doc):
            data = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()

if __name__ == "__main__":
    main()
