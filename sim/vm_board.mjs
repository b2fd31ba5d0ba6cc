// The VM board: the genuine firmware in MicroPython's WebAssembly VM, which also serves the REPL
// once the firmware hands the console over (facewave.sim.vm_board, VMBoard, bridges the
// console to a serial port).
//
// usage: node vm_board.mjs --micropython FILE --module NAME=FILE... --flash DIR [--size BYTES]
//   --micropython FILE  the npm package's micropython.mjs
//   --module NAME=FILE  a module of the port itself (vm_port, machine, hardware): imported at
//                       each VM's start, not on the flash
//   --flash DIR         the board's flash: loaded into each new VM, written back at every reset,
//                       at "save" and at exit (DIR is the flash between two VMs)
//   --size BYTES        the flash's size: what statvfs says and what writes may fill
//
// The control channel is newline-delimited JSON, one object a line.
// stdin (commands):
//   {"c":"rx","d":BASE64}   bytes from the host to the board's console
//   {"c":"query","id":N}    answered by {"e":"state","id":N,...}
//   {"c":"save","id":N}     write the flash back now; answered by {"e":"saved","id":N}
//   {"c":"fill"}            the flash is full from now on: its size shrinks to what it holds
//   {"c":"quit"}            write the flash back and exit (so does the end of stdin, SIGTERM)
// stdout (events):
//   {"e":"tx","d":BASE64}   bytes from the board's console to the host
//   {"e":"boot","n":N,"why":W}  a fresh VM has run boot.py (and main.py) after W: "power" (on),
//                           "soft" (reset), "reset" (machine.reset()), "watchdog" (ran out)
//   {"e":"repl"}            the firmware has handed the console to the REPL
//   {"e":"ready"}, {"e":"state",...}, {"e":"saved",...}, {"e":"bye"}
// exit: 0 after quit; 2 bad arguments; 1 a failure (one line on stderr).
//
// What the VM's REPL does (MicroPython 1.27, shared/runtime/pyexec.c, event-driven): replInit()
// prints the friendly banner (a fresh VM always starts friendly); replProcessChar(byte) answers
// 0, or PYEXEC_FORCED_EXIT (0x100) when the REPL asks the port to soft-reset: Ctrl-D on an
// empty line (friendly or raw), or SystemExit out of the code it ran (sys.exit(),
// machine.soft_reset(), our machine.reset()). This build has no exit-code handling, so nothing
// else is ever answered. Raw-paste is in this raw REPL (Ctrl-E A Ctrl-A), but its reader takes
// stdin through mp_hal_stdin_rx_chr(), which the webassembly port defines as 0
// (ports/webassembly/mphalport.h): it would read NULs for ever, so the raw REPL must never see
// that Ctrl-A. See rawPaste below.
import { parseArgs as parseArgv } from "node:util";
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const FLASH = "/flash"; // the flash in the VM's file system; MicroPython mounts it as "/"
const CODE = "/port"; // the port's modules, imported at boot and never mounted
const BLOCK = 4096;
const HEAP = 192 * 1024; // a Pico's heap at boot; this build grows it when it is full
const WINDOW = 128; // raw-paste window a board offers: MICROPY_REPL_STDIN_BUFFER_MAX (256) / 2
const TICK_MS = 100; // how often the REPL's board looks at its watchdog
const CTRL_A = 1, CTRL_C = 3, CTRL_D = 4, CTRL_E = 5;
// py/mperrno.h: the numbers a board's MicroPython raises (and names, for the first ones)
const MP_ERRNO = { EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13,
  EBUSY: 16, EEXIST: 17, EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23,
  EMFILE: 24, ENOTTY: 25, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, EROFS: 30, EMLINK: 31,
  ENAMETOOLONG: 36, ENOTEMPTY: 39, ELOOP: 40, ENOTSUP: 95, EOPNOTSUPP: 95 };

class InputError extends Error {}

function parseArgs(argv) {
  let values;
  try {
    ({ values } = parseArgv({ args: argv, strict: true, options: {
      micropython: { type: "string" }, flash: { type: "string" },
      module: { type: "string", multiple: true, default: [] },
      size: { type: "string", default: String(1408 * 1024) } } })); // a Pico's littlefs
  } catch (error) {
    if (!String(error.code).startsWith("ERR_PARSE_ARGS")) throw error;
    throw new InputError(error.message);
  }
  const modules = values.module.map((spec) => {
    const at = spec.indexOf("=");
    if (at < 1) throw new InputError(`--module ${spec}: NAME=FILE`);
    return [spec.slice(0, at), spec.slice(at + 1)];
  });
  const size = Number(values.size);
  if (!(size >= BLOCK)) throw new InputError("--size must be at least one block");
  if (!values.micropython || !values.flash) throw new InputError("--micropython and --flash needed");
  return { micropython: values.micropython, flash: values.flash, modules, size };
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

/** The flash folder on the host, into the VM's FLASH. */
function load(FS, dir, at) {
  for (const name of readdirSync(dir)) {
    const host = join(dir, name);
    const st = lstatSync(host);
    if (st.isDirectory()) {
      FS.mkdir(`${at}/${name}`);
      load(FS, host, `${at}/${name}`);
    } else if (st.isFile()) FS.writeFile(`${at}/${name}`, readFileSync(host));
  }
}

/** The VM's FLASH back into the host folder: what changed is written, what went is removed. */
function store(FS, at, dir) {
  const keep = new Set();
  for (const name of FS.readdir(at)) {
    if (name === "." || name === "..") continue;
    keep.add(name);
    const path = `${at}/${name}`;
    const host = join(dir, name);
    let old = (() => { try { return lstatSync(host); } catch { return null; } })();
    if (old && old.isSymbolicLink()) { // never written through: it may lead out of the folder
      rmSync(host);
      old = null;
    }
    if (FS.isDir(FS.stat(path).mode)) {
      if (old && !old.isDirectory()) rmSync(host, { force: true });
      if (!old || !old.isDirectory()) mkdirSync(host);
      store(FS, path, host);
    } else {
      const data = FS.readFile(path);
      if (old && old.isDirectory()) rmSync(host, { recursive: true, force: true });
      if (!old || !old.isFile() || !Buffer.from(data).equals(readFileSync(host))) {
        writeFileSync(host, data);
      }
    }
  }
  for (const name of readdirSync(dir)) { // what went; not what load() passed over (a symlink)
    const st = lstatSync(join(dir, name));
    if (!keep.has(name) && (st.isFile() || st.isDirectory())) {
      rmSync(join(dir, name), { recursive: true, force: true });
    }
  }
}

/** Blocks the flash holds, roughly as littlefs counts them: a directory is a metadata pair
 * (2 blocks), a file its data blocks. */
function usedBlocks(FS, at) {
  let n = 2;
  for (const name of FS.readdir(at)) {
    if (name === "." || name === "..") continue;
    const st = FS.stat(`${at}/${name}`);
    n += FS.isDir(st.mode) ? usedBlocks(FS, `${at}/${name}`) : Math.ceil(st.size / BLOCK);
  }
  return n;
}

/** The filesystem as a board's: statvfs and ENOSPC for a flash of `size` bytes, and errors
 * numbered as MicroPython numbers them. The VM's C library numbers them as WASI does (ENOENT
 * is 44), so a board's "OSError: [Errno 2] ENOENT", which mpremote and facewave flash read,
 * would be "OSError: 44"; they are renumbered where they leave the FS calls the VM's system
 * calls make (an error already renumbered, from a call inside another, passes as it is). */
function boardFS(FS, size) {
  const wasi = {};
  for (let n = 1; n < 256; n++) {
    const code = new FS.ErrnoError(n).code;
    if (code && !(code in wasi)) wasi[code] = n;
  }
  let total = Math.floor(size / BLOCK);
  FS.fill = () => { total = usedBlocks(FS, FLASH); };
  const write = FS.write;
  FS.write = (stream, buffer, offset, length, position, canOwn) => {
    const node = stream.node;
    const append = stream.flags & 1024; // O_APPEND: the write goes to the end
    const at = position !== undefined ? position : append ? node.usedBytes : stream.position;
    const grown = Math.ceil((at + length) / BLOCK) - Math.ceil(node.usedBytes / BLOCK);
    if (grown > 0 && stream.path.startsWith(FLASH + "/")
        && usedBlocks(FS, FLASH) + grown > total) {
      throw new FS.ErrnoError(wasi.ENOSPC);
    }
    return write(stream, buffer, offset, length, position, canOwn);
  };
  const statfs = FS.statfs;
  FS.statfs = (path) => {
    const st = statfs(path);
    if (path !== FLASH && !path.startsWith(FLASH + "/")) return st;
    const free = Math.max(0, total - usedBlocks(FS, FLASH));
    return { ...st, blocks: total, bfree: free, bavail: free };
  };
  for (const name of ["open", "close", "read", "write", "llseek", "mkdir", "rmdir", "unlink",
    "rename", "stat", "lstat", "fstat", "readdir", "chdir", "statfs", "truncate",
    "ftruncate"]) {
    const call = FS[name];
    FS[name] = (...args) => {
      try {
        return call(...args);
      } catch (e) {
        if (!(e instanceof FS.ErrnoError) || e.board || !(e.code in MP_ERRNO)) throw e;
        const err = new FS.ErrnoError(MP_ERRNO[e.code]);
        err.board = true;
        throw err;
      }
    };
  }
}

class Board {
  constructor(opts, loadMicroPython) {
    this.opts = opts;
    this.loadMicroPython = loadMicroPython;
    this.vm = null;
    this.port = null; // vm_port, the port's Python side
    this.mode = "repl"; // or "firmware" (its loop runs), or "paste" (raw-paste)
    this.boots = 0;
    this.inbox = []; // host bytes not handed on yet
    this.busy = false; // a new VM is being made: input waits
    this.timer = null;
    this.out = []; // console output not sent yet
    this.cook = true; // text output: a lone \n goes out as \r\n
    this.last = 0;
    this.fed = [0, 0]; // the two bytes the REPL got last
    this.code = null; // raw-paste: the code received so far
  }

  /** Console output from the VM: MicroPython's text goes out as a board's stdout cooks it
   * (\n as \r\n); what the firmware's loop writes (its protocol frames) goes out as it is. */
  stdout(bytes) {
    for (const b of bytes) {
      if (this.cook && b === 10 && this.last !== 13) this.out.push(13);
      this.out.push(b);
      this.last = b;
    }
  }

  flush() {
    if (!this.out.length) return;
    emit({ e: "tx", d: Buffer.from(this.out).toString("base64") });
    this.out = [];
  }

  /** A fresh VM with the flash, as a board after power-on or a soft reset: RAM is new. */
  async fresh() {
    if (this.vm) this.save();
    const vm = await this.loadMicroPython({ stdout: (b) => this.stdout(b), linebuffer: false,
      heapsize: HEAP });
    const FS = vm.FS;
    FS.mkdir(FLASH);
    load(FS, this.opts.flash, FLASH);
    FS.mkdir(CODE);
    for (const [name, file] of this.opts.modules) FS.writeFile(`${CODE}/${name}.py`,
      readFileSync(file));
    boardFS(FS, this.opts.size);
    // the port's modules, then the flash as "/": CODE is out of sight before anything runs
    vm.runPython(`import sys\nsys.path.append("${CODE}")\nimport machine, vm_port\n`
      + `sys.path.remove("${CODE}")\ndel sys, machine, vm_port\n`);
    this.vm = vm;
    this.port = vm.pyimport("vm_port");
    this.port.mount(FLASH);
  }

  save() {
    store(this.vm.FS, FLASH, this.opts.flash);
  }

  /** Power-on ("power"; "reset": machine.reset(); "watchdog") or a soft reset ("soft", in the
   * REPL that asked for it: a raw one stays raw and skips main.py), as rp2's main.c goes
   * round. A started watchdog runs on through a soft reset, as on rp2; a reset stops it. */
  async boot(why, raw = false) {
    this.busy = true;
    clearTimeout(this.timer);
    for (;;) {
      const watchdog = why === "soft" ? this.port.watchdog() : -1;
      if (why === "soft") this.stdout(Buffer.from("MPY: soft reboot\n"));
      this.flush();
      await this.fresh();
      this.boots++;
      this.cook = true;
      const ran = this.port.boot(this.vm.globals.__dict__, !raw, watchdog);
      this.flush();
      emit({ e: "boot", n: this.boots, why });
      if (ran >= 0) {
        if (ran) this.mode = "firmware";
        else this.repl(raw);
        break;
      }
      why = "soft"; // boot.py or main.py raised SystemExit: round again
    }
    this.busy = false;
    this.pump();
  }

  /** The REPL takes the console: friendly (its banner), or raw after a raw soft reset. A new
   * VM always starts friendly, so it is switched with Ctrl-A, less the line break it prints. */
  repl(raw) {
    this.mode = "repl";
    const mark = this.out.length;
    this.vm.replInit();
    if (raw) {
      this.out.length = mark;
      this.vm.replProcessChar(CTRL_A);
      this.out.splice(mark, 2);
    }
    this.fed = [0, 0];
  }

  rx(data) {
    this.inbox.push(data);
    this.pump();
  }

  /** At the REPL, the hardware's clock is brought to the wall time now and then (the loop's
   * passes do it while the firmware runs): a watchdog left running resets the board. */
  tick() {
    if (!this.busy && this.mode !== "firmware" && this.port.tick()) this.boot("watchdog");
  }

  pump() {
    if (this.busy) return;
    if (this.mode === "firmware") {
      clearTimeout(this.timer);
      this.timer = null;
      this.pass();
    } else if (this.inbox.length) {
      const data = Buffer.concat(this.inbox);
      this.inbox = [];
      this.feed(data);
    }
    this.flush();
  }

  /** One pass of the firmware's loop with the input that came; then its sleep, cut short by
   * input. KeyboardInterrupt (mpremote's interrupt) hands the console to the REPL. */
  pass() {
    const data = Buffer.concat(this.inbox);
    this.inbox = [];
    this.cook = false;
    const wait = this.port.step(data.toString("hex"));
    this.cook = true;
    if (wait >= 0) {
      this.timer = setTimeout(() => this.pump(), wait);
      return;
    }
    if (wait === -2) {
      this.reset(false);
      return;
    }
    if (wait === -3) {
      this.boot("watchdog");
      return;
    }
    const rest = Buffer.from(this.port.handover(), "hex");
    emit({ e: "repl" });
    this.repl(false);
    this.feed(rest);
  }

  /** Host bytes to the REPL, up to one that asks for a reset (the rest waits for the new VM). */
  feed(data) {
    for (let i = 0; i < data.length; i++) {
      const c = data[i];
      if (this.mode === "paste") {
        this.paste(c);
        continue;
      }
      if (c === CTRL_A && this.fed[0] === CTRL_E && this.fed[1] === 0x41 && this.rawPaste()) {
        continue;
      }
      const mark = this.out.length;
      const asked = this.vm.replProcessChar(c);
      this.fed = [this.fed[1], c];
      if (asked) {
        this.inbox.unshift(data.subarray(i + 1));
        this.reset(Buffer.from(this.out.slice(mark, mark + 2)).toString() === "OK");
        return;
      }
    }
  }

  /** The REPL asked for a reset: machine.reset() powers a fresh VM on; anything else is a
   * soft reset in the REPL that asked (the raw REPL's answer to Ctrl-D starts with OK). */
  reset(raw) {
    if (this.port.hard_reset()) this.boot("reset");
    else this.boot("soft", raw);
  }

  /** Raw-paste (Ctrl-E A Ctrl-A), which this build's raw REPL would hang on (see the top):
   * the Ctrl-A is held back and a Ctrl-C goes in instead. The raw REPL drops the line ("\x05A")
   * silently; if it printed something, it was the friendly REPL (whose paste mode the Ctrl-C
   * cancelled) and the Ctrl-A goes on. Else the board answers as MicroPython's raw-paste does
   * (R, 1, the window, then a window back for every window taken) and hands the code to the raw
   * REPL at the end, less the OK the raw REPL prints first: the code runs in the real raw REPL
   * (where Ctrl-A, B or C in it would act: mpremote's code has none). Ctrl-C, which would
   * interrupt the reading, ends it here and drops the code. */
  rawPaste() {
    const mark = this.out.length;
    this.vm.replProcessChar(CTRL_C);
    this.fed = [0, 0];
    if (this.out.length > mark) return false;
    this.out.push(0x52, 1, WINDOW & 255, WINDOW >> 8, 1);
    this.code = [];
    this.mode = "paste";
    return true;
  }

  paste(c) {
    if (c !== CTRL_D && c !== CTRL_C) {
      this.code.push(c);
      if (this.code.length % WINDOW === 0) this.out.push(1);
      return;
    }
    this.out.push(CTRL_D);
    this.mode = "repl";
    if (c === CTRL_C) return;
    if (!this.code.length) this.code.push(10); // an empty raw line would be a soft reset
    for (const b of this.code) this.vm.replProcessChar(b);
    const mark = this.out.length;
    const asked = this.vm.replProcessChar(CTRL_D);
    this.out.splice(mark, 2);
    if (asked) this.reset(true);
  }

  state() {
    return { mode: this.mode, boots: this.boots, used: usedBlocks(this.vm.FS, FLASH) * BLOCK,
      size: Math.floor(this.opts.size / BLOCK) * BLOCK };
  }
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    process.stderr.write(`vm board: ${error.message}\n`);
    process.exit(2);
  }
  const { loadMicroPython } = await import(pathToFileURL(opts.micropython).href);
  const board = new Board(opts, loadMicroPython);
  const quit = () => {
    if (board.vm) board.save();
    emit({ e: "bye", boots: board.boots });
    process.exit(0);
  };
  await board.boot("power");
  emit({ e: "ready" });
  setInterval(() => board.tick(), TICK_MS);
  let pending = "";
  process.stdin.setEncoding("latin1");
  process.stdin.on("data", (chunk) => {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop();
    for (const line of lines) {
      if (!line.trim()) continue;
      const msg = JSON.parse(line);
      if (msg.c === "rx") board.rx(Buffer.from(msg.d, "base64"));
      else if (msg.c === "query") emit({ e: "state", id: msg.id, ...board.state() });
      else if (msg.c === "save") {
        board.save();
        emit({ e: "saved", id: msg.id });
      } else if (msg.c === "fill") board.vm.FS.fill();
      else if (msg.c === "quit") quit();
    }
  });
  process.stdin.on("end", quit);
  process.on("SIGTERM", quit);
}

/** A failure: its last line first (a Python traceback's is the exception), then the stack. */
function fail(error) {
  const lines = String(error.message || error).trim().split("\n");
  process.stderr.write(`vm board: ${lines[lines.length - 1]}\n${error.stack || ""}\n`);
  process.exit(1);
}

process.on("uncaughtException", fail);
main().catch(fail);
