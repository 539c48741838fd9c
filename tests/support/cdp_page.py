#!/usr/bin/python3
"""Loads a page in headless Chromium over the DevTools protocol and saves its DOM (and a screenshot).

usage: cdp_page.py TO_BROWSER FROM_BROWSER URL OUT.html [--no-js] [--screenshot FILE.png]

TO_BROWSER and FROM_BROWSER are the named pipes Chromium was started with as its fd 3 and fd 4
(--remote-debugging-pipe). Every console message, exception and log entry of the page is printed on
stderr as "console: ..." and makes the exit status 1. --no-js switches JavaScript off before loading
(--dump-dom needs JavaScript, so the protocol's DOM domain reads the page instead). Standard library only.
"""
import base64
import json
import sys

args = sys.argv[1:]
no_js = "--no-js" in args
shot = args[args.index("--screenshot") + 1] if "--screenshot" in args else None
to_browser, from_browser, url, out = args[:4]
w = open(to_browser, "wb", buffering=0)
r = open(from_browser, "rb", buffering=0)
pending = b""
events = []
next_id = 0


def receive():
    global pending
    while b"\0" not in pending:
        chunk = r.read(65536)
        if not chunk:
            raise SystemExit("the browser closed the protocol pipe")
        pending += chunk
    message, pending = pending.split(b"\0", 1)
    return json.loads(message)


def call(method, params=None, session=None):
    global next_id
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session:
        message["sessionId"] = session
    w.write(json.dumps(message).encode() + b"\0")
    while True:
        m = receive()
        if m.get("id") == next_id:
            if "error" in m:
                raise SystemExit(f"{method}: {m['error']}")
            return m.get("result", {})
        events.append(m)


def wait_for(method):
    for i, m in enumerate(events):
        if m.get("method") == method:
            del events[i]
            return
    while True:
        m = receive()
        if m.get("method") == method:
            return
        events.append(m)


target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
for domain in ("Page", "Runtime", "Log"):
    call(f"{domain}.enable", session=session)
call("Emulation.setScriptExecutionDisabled", {"value": no_js}, session=session)
call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
     session=session)
call("Page.navigate", {"url": url}, session=session)
wait_for("Page.loadEventFired")
root = call("DOM.getDocument", {"depth": -1}, session=session)["root"]["nodeId"]
html = call("DOM.getOuterHTML", {"nodeId": root}, session=session)["outerHTML"]
open(out, "w", encoding="utf-8").write(html)
if shot:
    png = call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                          "clip": {"x": 0, "y": 0, "width": 1280, "height": 3000, "scale": 1}},
               session=session)["data"]
    open(shot, "wb").write(base64.b64decode(png))
# anything the page said until now (a last round trip collects late events)
call("Runtime.evaluate" if not no_js else "DOM.getDocument", {"expression": "1"} if not no_js else {"depth": 0},
     session=session)
bad = [m for m in events if m.get("method") in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown",
                                                  "Log.entryAdded")]
for m in bad:
    print("console:", json.dumps(m["params"])[:500], file=sys.stderr)
try:
    call("Browser.close")
except SystemExit:
    pass
sys.exit(1 if bad else 0)
