"""Find Java and fetch a server's jars with Maven into a cache outside the source tree.

The poms live in ``rdg/stack/maven/<component>.xml``. ``mvn dependency:copy-dependencies``
copies every jar into ``<stack_dir>/jars/<component>-<version>-<pom hash>/``; a marker file
says the copy finished, so the second start only checks that marker. A change to the pom
gives a new folder.

>>> pom_path("kafka").name
'kafka.xml'
>>> pom_version("janusgraph")
'1.1.0'
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Callable

from rdg.errors import EnvironmentMissingError, ServerError

__all__ = ["fetch_jars", "java_binary", "java_major", "pom_path", "pom_version"]

_JAVA_HINT = "Java 17 is needed: apt-get install -y openjdk-17-jre-headless (or set JAVA_HOME)"
_MAVEN_HINT = "Maven is needed to fetch the server jars once: apt-get install -y maven"
_DONE = ".rdg-complete"


def pom_path(component: str) -> Path:
    """The pom shipped with rdg for ``component`` (``kafka`` or ``janusgraph``)."""
    return Path(str(resources.files("rdg.stack") / "maven" / f"{component}.xml"))


def pom_version(component: str) -> str:
    """The project ``<version>`` of a shipped pom: the server version it fetches."""
    text = pom_path(component).read_text()
    found = re.search(r"<artifactId>[^<]+</artifactId>\s*<version>([^<]+)</version>", text)
    return found.group(1) if found else "unknown"


def java_binary() -> str:
    """Path of the ``java`` to use: ``$JAVA_HOME/bin/java``, else ``java`` on ``PATH``.

    Raises:
        EnvironmentMissingError: No Java at all, or one older than 17.
    """
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home else None
    if not (candidate and os.access(candidate, os.X_OK)):
        candidate = shutil.which("java")
    if not candidate:
        raise EnvironmentMissingError("no `java` on PATH", hint=_JAVA_HINT)
    major = java_major(candidate)
    if major < 17:
        raise EnvironmentMissingError(f"{candidate} is Java {major}, too old for Kafka 4", hint=_JAVA_HINT)
    return candidate


def java_major(java: str) -> int:
    """The major version of a ``java`` binary (``17`` for ``17.0.15``, ``8`` for ``1.8.0``)."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise EnvironmentMissingError(f"cannot run {java}: {err}", hint=_JAVA_HINT) from err
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        raise EnvironmentMissingError(f"cannot tell the version of {java}", hint=_JAVA_HINT)
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def fetch_jars(
    component: str,
    stack_dir: str | os.PathLike[str],
    *,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Return the folder holding every jar of ``component``, fetching them the first time.

    Args:
        component: ``kafka`` or ``janusgraph`` (a pom in ``rdg/stack/maven``).
        stack_dir: The stack cache root (``Settings.stack_dir``).
        progress: Called with one line of progress text, if given.

    Raises:
        EnvironmentMissingError: Maven is needed (first fetch) but not installed.
        ServerError: Maven failed; the message has its last output lines.
    """
    pom = pom_path(component)
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:10]
    version = pom_version(component)
    root = Path(stack_dir) / "jars"
    target = root / f"{component}-{version}-{digest}"
    if (target / _DONE).exists():
        return target / "lib"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{component}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be fetching the same jars
        if (target / _DONE).exists():
            return target / "lib"
        mvn = shutil.which("mvn")
        if not mvn:
            raise EnvironmentMissingError(f"Maven (`mvn`) is not on PATH and the {component} jars are not cached",
                                          hint=_MAVEN_HINT)
        java_binary()  # Maven needs it too; fail with the Java sentence, not Maven's
        if progress:
            progress(f"fetching {component} {version} jars with Maven into {target} (first time only)...")
        work = root / f"{target.name}.partial"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        shutil.copy(pom, work / "pom.xml")
        cmd = [mvn, "-q", "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
               f"-DoutputDirectory={work / 'lib'}"]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=work, check=False)
        if done.returncode != 0:
            last = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise ServerError(f"Maven could not fetch the {component} jars:\n{last}",
                              hint="check network access to Maven Central (or ~/.m2/settings.xml mirrors)")
        shutil.rmtree(work / "target", ignore_errors=True)
        count = len(list((work / "lib").glob("*.jar")))
        (work / _DONE).write_text(f"{count} jars\n")
        shutil.rmtree(target, ignore_errors=True)
        work.rename(target)
        if progress:
            progress(f"fetched {count} jars for {component} {version}")
    return target / "lib"
