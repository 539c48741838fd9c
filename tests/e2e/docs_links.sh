#!/usr/bin/env bash
# Every relative link of README.md and docs/*.md points to a file that exists, and every #anchor to a
# heading of that file (GitHub's rule: lower case, punctuation dropped, spaces to '-'); every document
# in docs/ is reachable from the index docs/README.md.
set -euo pipefail
/usr/bin/python3 - "$CAF_SOURCE_DIR" <<'PYEOF'
import os, re, sys
root = sys.argv[1]
docs = [os.path.join(root, "README.md")] + sorted(
    os.path.join(root, "docs", f) for f in os.listdir(os.path.join(root, "docs")) if f.endswith(".md"))
def anchors(path):
    text = re.sub(r"^```.*?^```", "", open(path).read(), flags=re.S | re.M)
    out = set()
    for h in re.findall(r"^#+ (.*)$", text, re.M):
        out.add(re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-"))
    return out
bad = []
for doc in docs:
    text = re.sub(r"^```.*?^```", "", open(doc).read(), flags=re.S | re.M)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        if not os.path.exists(full):
            bad.append(f"{os.path.relpath(doc, root)}: {target}: no such file")
        elif anchor and full.endswith(".md") and anchor not in anchors(full):
            bad.append(f"{os.path.relpath(doc, root)}: {target}: no such heading")
index = open(os.path.join(root, "docs", "README.md")).read()
for doc in docs[1:]:
    name = os.path.basename(doc)
    if name != "README.md" and f"({name}" not in index:
        bad.append(f"docs/README.md does not link {name}")
assert not bad, "\n".join(bad)
print(f"ok: {len(docs)} documents")
PYEOF
