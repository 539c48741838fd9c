"""make install puts the package caf where the Python it was built for finds it: under the prefix at a
folder that is on that interpreter's own sys.path for the prefix /usr/local, and importable from there
(not from the build tree), and finding the caf command installed beside it."""
import os
import subprocess
import sys
import sysconfig

import pytest


def test_installed_package_imports(tmp_path):
    build = os.environ.get("CAF_BUILD_DIR")
    if not build:
        pytest.fail("CAF_BUILD_DIR is not set; run through ctest")
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", build, "--prefix", str(prefix)], check=True, capture_output=True)
    found = [root for root, dirs, files in os.walk(prefix) if "__init__.py" in files and root.endswith("/caf")]
    assert len(found) == 1, found
    site = os.path.dirname(found[0])
    relative = os.path.relpath(site, prefix)
    # the same folder under /usr/local is where this interpreter looks (Debian: dist-packages)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    paths = subprocess.run([sys.executable, "-c", "import sys; print('\\n'.join(sys.path))"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    if sys.prefix == "/usr" and "deb_system" in sysconfig.get_scheme_names():
        assert os.path.join("/usr/local", relative) in paths, (relative, paths)
    assert any(f.startswith("_caf") for f in os.listdir(found[0]))
    code = "import caf; print(caf.__file__); print(caf.IoV.parse('0,0,0,-1').contains((0, 7)))"
    p = subprocess.run([sys.executable, "-c", code], env=dict(env, PYTHONPATH=site), cwd=tmp_path, check=True,
                       capture_output=True, text=True)
    where, contains = p.stdout.split()
    assert where.startswith(str(prefix)) and contains == "True"
    # an installed package runs the installed caf command (campaigns, caf.framework)
    env.pop("CAF_COMMAND", None)
    code = "import caf.framework; print(caf.framework.find_caf_command())"
    p = subprocess.run([sys.executable, "-c", code], env=dict(env, PYTHONPATH=site), cwd=tmp_path, check=True,
                       capture_output=True, text=True)
    assert p.stdout.strip() == str(prefix / "bin" / "caf")
