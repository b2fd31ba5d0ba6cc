// Runs one job in the real MicroPython VM (WebAssembly) for facewave.sim.mpvm.
//
// usage: node mpvm_runner.mjs <path of the npm package's micropython.mjs>
// stdin:  JSON {"files": [[vm path, base64 bytes], ...], "code": python source}
// stdout: what the Python code printed, byte for byte
// exit:   0 done; 1 a Python exception (its MicroPython traceback on stderr); 2 runner failure
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const out = [];
const RUN_BREAK = /\n# --- next run ---.*\n/;
try {
  const { loadMicroPython } = await import(pathToFileURL(process.argv[2]).href);
  const job = JSON.parse(readFileSync(0, "utf8"));
  // Unbuffered stdout hands over one byte at a time; collect them and write once at the end.
  const mp = await loadMicroPython({ stdout: (b) => out.push(...b), linebuffer: false });
  for (const [path, data] of job.files) {
    mp.FS.mkdirTree(path.slice(0, path.lastIndexOf("/")) || "/");
    mp.FS.writeFile(path, Buffer.from(data, "base64"));
  }
  // A separate run, so the job's own line numbers stay right in tracebacks.
  mp.runPython("import sys\nif '/lib' not in sys.path:\n    sys.path.append('/lib')\n");
  try {
    // A job may come in parts, run one after the other in the same interpreter: only between
    // two runs does the collector free what the first left behind (within one run this build
    // keeps it), as a board's collector would at any time.
    for (const part of job.code.split(RUN_BREAK)) mp.runPython(part);
  } catch (error) {
    if (error.name !== "PythonError") throw error;
    process.stderr.write(error.message);
    process.exitCode = 1;
  }
} catch (error) {
  process.stderr.write(`mpvm runner: ${error.stack || error}\n`);
  process.exitCode = 2;
} finally {
  process.stdout.write(Buffer.from(out));
}
