// The emulated Raspberry Pi Pico: the genuine MicroPython UF2 on rp2040js (facewave.sim.rp2040).
//
// usage: node rp2040_board.mjs --uf2 FILE --bootrom FILE [--flash FILE] [--speed X]
//                              [--rp2040js DIR] [--check]
//   --flash FILE  the board's whole 2 MB flash, loaded at start if the file exists, saved
//                 (atomically, debounced) after writes and at exit; without it, nothing is kept
//   --speed X     board time per wall time when idle: 1 (default) is real time; 0 is as fast
//                 as possible (idle time is skipped). Busy code runs as fast as the host can.
//   --rp2040js DIR  the npm package's folder (default: resolved from this file's location)
//   --check       validate the files and exit
//
// The control channel is newline-delimited JSON, one object a line.
// stdin (commands):
//   {"c":"rx","d":BASE64}      bytes from the USB host to the board's CDC serial
//   {"c":"dtr","v":true}       a host program opened the port (false: the last one closed it)
//   {"c":"pin","pin":14,"v":1} drive an input pin high (1) or low (0)
//   {"c":"adc","ch":3,"raw":N} an ADC channel's 12-bit value
//   {"c":"query","id":N}       answered by {"e":"state","id":N,...}
//   {"c":"save","id":N}        save the flash now; answered by {"e":"saved","id":N}
//   {"c":"quit"}               save the flash and exit (so does the end of stdin, SIGTERM)
// stdout (events), each with "ms", the board time in milliseconds since the first power-on:
//   {"e":"usb","boot":N}       the board's USB CDC is enumerated and configured (boot N, 0 first)
//   {"e":"tx","d":BASE64}      bytes from the board's CDC serial to the host
//   {"e":"pwm",...}            the motor pin's output changed (see motorState below)
//   {"e":"reset","n":N,"why":"watchdog"|"forced"}  a watchdog reset: a fresh chip, same flash
//   {"e":"break","code":N,"pc":N}                  the core hit a BKPT/UDF that is not ours
//   {"e":"warn","msg":TEXT}    rp2040js met something it does not emulate (once per message)
//   {"e":"state",...}, {"e":"saved",...}, {"e":"bye"}
// exit: 0 after quit; 2 bad input (one line on stderr); 1 an emulator failure.
import { parseArgs as parseArgv } from "node:util";
import {
  existsSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

const FLASH_SIZE = 2 * 1024 * 1024; // the Pico's W25Q16JV
const FLASH_BASE = 0x10000000;
const RP2040_FAMILY = 0xe48bff56;
const UF2_MAGIC0 = 0x0a324655;
const UF2_MAGIC1 = 0x9e5d5157;
const UF2_MAGIC_END = 0x0ab16f30;
const UF2_FLAG_NOT_MAIN_FLASH = 0x1;
const UF2_FLAG_FAMILY = 0x2000;
const BOARD_NAME = "Raspberry Pi Pico with RP2040"; // MicroPython's banner for RPI_PICO
const FAMILIES = { 0xe48bff59: "RP2350", 0x1c5f21b0: "ESP32", 0xbfdd4eee: "ESP32-S2",
  0xc47e5767: "ESP32-S3", 0xd42ba06c: "ESP32-C3", 0xada52840: "nRF52840", 0x68ed2b88: "SAMD21",
  0x55114460: "SAMD51", 0x57755a57: "STM32F4" };
const MOTOR_PIN = 15; // GP15: PWM slice 7, channel B
const INPUT_DEFAULTS = { 13: true, 14: true }; // charger (CHRG, open drain), button: idle high
const ADC_DEFAULTS = [0, 0, 0, 1654, 876]; // ADC3 = VSYS/3 of a 4.0 V cell; ADC4 ~ 27 C
const PAD_RESET = 0x56;
const SAVE_DEBOUNCE_MS = 500;
const SAVE_MAX_DELAY_MS = 3000;
const BRK_BASE = 0xb0; // our BKPT codes in the patched boot ROM
const ROM_FUNCS = { RE: "erase", RP: "program", IF: "connect", EX: "exit_xip", FC: "flush",
  CX: "enter_xip" };

class InputError extends Error {}

function parseArgs(argv) {
  const opts = options(argv, {
    uf2: { type: "string" }, bootrom: { type: "string" }, flash: { type: "string" },
    rp2040js: { type: "string" }, speed: { type: "string", default: "1" },
    check: { type: "boolean" } });
  opts.speed = Number(opts.speed);
  if (!(opts.speed >= 0)) throw new InputError("--speed must be a number >= 0");
  if (!opts.uf2) throw new InputError("--uf2 FILE is required");
  if (!opts.bootrom) throw new InputError("--bootrom FILE is required");
  return opts;
}

// node's own argument parser, its refusals as InputError
function options(argv, spec) {
  try {
    return { ...parseArgv({ args: argv, options: spec, strict: true }).values };
  } catch (error) {
    if (!String(error.code).startsWith("ERR_PARSE_ARGS")) throw error;
    throw new InputError(error.message);
  }
}

function readInput(path, what) {
  try {
    return readFileSync(path);
  } catch (e) {
    const why = e.code === "ENOENT" ? "no such file" : e.code === "EISDIR" ? "a folder, not a file"
      : e.message;
    throw new InputError(`${what} ${path}: ${why}`);
  }
}

/** The UF2's flash image as [address, payload] blocks, refusing anything but MicroPython for
 * the Raspberry Pi Pico (RP2040). */
export function loadUF2(path) {
  const data = readInput(path, "UF2");
  if (data.length === 0 || data.length % 512 !== 0 || data.readUInt32LE(0) !== UF2_MAGIC0) {
    throw new InputError(`UF2 ${path}: not a UF2 file`);
  }
  const blocks = [];
  for (let off = 0; off < data.length; off += 512) {
    const w = (i) => data.readUInt32LE(off + i);
    if (w(0) !== UF2_MAGIC0 || w(4) !== UF2_MAGIC1 || w(508) !== UF2_MAGIC_END) {
      throw new InputError(`UF2 ${path}: not a UF2 file (bad block ${off / 512})`);
    }
    const flags = w(8);
    if (flags & UF2_FLAG_NOT_MAIN_FLASH) continue;
    if (flags & UF2_FLAG_FAMILY && w(28) !== RP2040_FAMILY) {
      const name = FAMILIES[w(28)] || `family 0x${w(28).toString(16)}`;
      throw new InputError(
        `UF2 ${path}: a UF2 for ${name}, not for the RP2040 of the Raspberry Pi Pico`);
    }
    const addr = w(12), size = w(16);
    if (size > 476 || addr < FLASH_BASE || addr + size > FLASH_BASE + FLASH_SIZE) {
      throw new InputError(`UF2 ${path}: block ${off / 512} at 0x${addr.toString(16)} is ` +
        "outside the Pico's 2 MB flash");
    }
    blocks.push([addr - FLASH_BASE, data.subarray(off + 32, off + 32 + size)]);
  }
  if (!blocks.length) throw new InputError(`UF2 ${path}: holds nothing for the flash`);
  const image = Buffer.concat(blocks.map((b) => b[1]));
  if (!image.includes("MicroPython")) {
    throw new InputError(
      `UF2 ${path}: not MicroPython (get RPI_PICO from micropython.org/download/RPI_PICO/)`);
  }
  if (!image.includes(BOARD_NAME)) {
    const m = /; ([ -~]{1,60}) with (RP2\w+)/.exec(image.toString("latin1"));
    const other = m ? `"${m[1]} with ${m[2]}"` : "another board";
    throw new InputError(
      `UF2 ${path}: MicroPython for ${other}, not for the Raspberry Pi Pico (RPI_PICO)`);
  }
  if (!blocks.some((b) => b[0] === 0)) {
    throw new InputError(`UF2 ${path}: no boot stage 2 at the start of flash`);
  }
  return blocks;
}

/** The boot ROM (16 KB, 'Mu' magic) and its function table. */
export function loadBootrom(path) {
  const data = readInput(path, "boot ROM");
  if (data.length !== 16384 || data[0x10] !== 0x4d || data[0x11] !== 0x75 || data[0x12] !== 1) {
    throw new InputError(`boot ROM ${path}: not an RP2040 boot ROM (16 KB, as bootrom-b1.bin)`);
  }
  const funcs = {};
  for (let p = data.readUInt16LE(0x14); p + 4 <= data.length; p += 4) {
    const code = data.readUInt16LE(p);
    if (!code) break;
    funcs[String.fromCharCode(code & 0xff, code >> 8)] = data.readUInt16LE(p + 2);
  }
  for (const name of ["RE", "RP"]) {
    if (!funcs[name]) throw new InputError(`boot ROM ${path}: no ${name} in its function table`);
  }
  return { data, funcs };
}

function loadFlashFile(path) {
  if (!path || !existsSync(path)) return null;
  const st = statSync(path);
  if (!st.isFile()) throw new InputError(`flash ${path}: not a file`);
  if (st.size !== FLASH_SIZE) {
    throw new InputError(
      `flash ${path}: ${st.size} bytes, not a ${FLASH_SIZE}-byte Pico flash image`);
  }
  return readFileSync(path);
}

function b64(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64");
}

// ---- the USB host: enumerates the CDC device, NAKs OUT while idle, queues without limit ------

const CDC_SET_CONTROL_LINE_STATE = 0x22;
const CDC_DATA_CLASS = 10;

function endpointsOf(descriptors) {
  let found = false;
  const eps = { in: -1, out: -1 };
  for (let i = 0; i < descriptors.length;) {
    const len = descriptors[i];
    if (len < 2 || i + len > descriptors.length) break;
    const type = descriptors[i + 1];
    if (type === 4 && len === 9) { // an interface: the CDC data one has 2 endpoints
      found = descriptors[i + 4] === 2 && descriptors[i + 5] === CDC_DATA_CLASS;
    }
    if (found && type === 5 && len === 7 && (descriptors[i + 3] & 3) === 2) {
      const addr = descriptors[i + 2];
      if (addr & 0x80) eps.in = addr & 0xf; else eps.out = addr & 0xf;
    }
    i += len;
  }
  return eps;
}

function setupPacket(bmRequestType, bRequest, wValue, wIndex, wLength) {
  return new Uint8Array([bmRequestType, bRequest, wValue & 0xff, wValue >> 8, wIndex & 0xff,
    wIndex >> 8, wLength & 0xff, wLength >> 8]);
}

class CdcHost {
  constructor(usb, { onConfigured, onData }) {
    this.usb = usb;
    this.onConfigured = onConfigured;
    this.onData = onData;
    this.configTotal = null;
    this.descriptors = [];
    this.inEp = -1;
    this.outEp = -1;
    this.configured = false;
    this.controlBusy = false;
    this.controlQueue = [];
    this.dtr = false;
    this.pendingRead = 0; // size of the OUT buffer the device armed and we NAKed (0: none)
    this.queue = []; // host -> device chunks (Uint8Array), without limit
    this.queueOff = 0;
    this.queued = 0;
    usb.onUSBEnabled = () => usb.resetDevice();
    usb.onResetReceived = () => this.control(setupPacket(0x00, 5, 1, 0, 0)); // SET_ADDRESS 1
    usb.onEndpointWrite = (ep, buf) => this.endpointWrite(ep, buf);
    usb.onEndpointRead = (ep, size) => this.endpointRead(ep, size);
  }

  control(packet) {
    if (this.controlBusy) {
      this.controlQueue.push(packet);
      return;
    }
    this.controlBusy = true;
    this.usb.sendSetupPacket(packet);
  }

  controlDone() {
    this.controlBusy = false;
    const next = this.controlQueue.shift();
    if (next) this.control(next);
  }

  endpointWrite(ep, buf) {
    if (ep === 0) {
      if (buf.length === 0) { // the status stage of a request without data
        if (this.configTotal == null) {
          this.controlDone();
          this.control(setupPacket(0x80, 6, 0x0200, 0, 9)); // GET_DESCRIPTOR configuration
        } else if (!this.configured) {
          this.controlDone();
          this.configured = true;
          if (this.dtr) this.lineState();
          this.onConfigured();
        } else {
          this.controlDone();
        }
        return;
      }
      if (this.configTotal == null && buf.length === 9 && buf[1] === 2) {
        this.configTotal = buf[2] | (buf[3] << 8);
        this.controlBusy = false;
        this.control(setupPacket(0x80, 6, 0x0200, 0, this.configTotal));
      } else if (this.configTotal != null && this.descriptors.length < this.configTotal) {
        this.descriptors.push(...buf);
        if (this.descriptors.length >= this.configTotal) {
          const eps = endpointsOf(this.descriptors);
          this.inEp = eps.in;
          this.outEp = eps.out;
          this.controlBusy = false;
          this.control(setupPacket(0x00, 9, 1, 0, 0)); // SET_CONFIGURATION 1
        }
      }
      return;
    }
    if (ep === this.inEp) this.onData(buf);
  }

  endpointRead(ep, size) {
    if (ep !== this.outEp) return;
    if (this.queued) this.feed(size);
    else this.pendingRead = size; // NAK: nothing to send until the host writes
  }

  feed(size) {
    const out = new Uint8Array(Math.min(size, this.queued));
    let n = 0;
    while (n < out.length) {
      const chunk = this.queue[0];
      const take = Math.min(chunk.length - this.queueOff, out.length - n);
      out.set(chunk.subarray(this.queueOff, this.queueOff + take), n);
      n += take;
      this.queueOff += take;
      if (this.queueOff === chunk.length) {
        this.queue.shift();
        this.queueOff = 0;
      }
    }
    this.queued -= n;
    this.usb.endpointReadDone(this.outEp, out);
  }

  send(bytes) {
    if (!bytes.length) return;
    this.queue.push(bytes);
    this.queued += bytes.length;
    if (this.pendingRead && this.configured) {
      const size = this.pendingRead;
      this.pendingRead = 0;
      this.feed(size);
    }
  }

  setDtr(on) {
    if (on === this.dtr) return;
    this.dtr = on;
    if (this.configured) this.lineState();
  }

  lineState() {
    // DTR and RTS together, as Linux raises and drops both when a program opens and closes
    const value = this.dtr ? 3 : 0;
    this.control(setupPacket(0x21, CDC_SET_CONTROL_LINE_STATE, value, 0, 0));
  }
}

// ---- the board ----------------------------------------------------------------------------

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

class Board {
  constructor(rp, opts, bootrom, uf2Blocks, flashImage) {
    this.rp = rp;
    this.opts = opts;
    const patched = patchBootrom(bootrom);
    this.bootromData = patched.words;
    this.breakNames = patched.names;
    // the flash at power-on: the saved image, with the UF2 written over it (as a copy onto the
    // Pico's USB drive writes the UF2's blocks and keeps the rest: the filesystem)
    this.powerOnFlash = new Uint8Array(FLASH_SIZE).fill(0xff);
    if (flashImage) this.powerOnFlash.set(flashImage);
    for (const [addr, payload] of uf2Blocks) this.powerOnFlash.set(payload, addr);
    this.inputs = { ...INPUT_DEFAULTS };
    this.adc = ADC_DEFAULTS.slice();
    this.boot = -1;
    this.resets = 0;
    this.msBase = 0; // board ms of the current chip's power-on
    this.txChunks = [];
    this.motor = null;
    this.dirty = false;
    this.saveTimer = null;
    this.firstDirty = 0;
    this.speed = opts.speed;
    this.timer = null;
    this.sleeping = false;
    this.powerOn(null);
  }

  get ms() {
    return this.msBase + this.clock.nanos / 1e6;
  }

  powerOn(watchdog) {
    const { RP2040 } = this.rp;
    this.boot += 1;
    const mcu = (this.mcu = new RP2040()); // with a clock of its own, from 0
    this.clock = mcu.clock;
    mcu.logger = { debug() {}, info() {}, warn() {}, error() {} };
    mcu.loadBootrom(this.bootromData); // resets the core and blanks the emulator's flash
    mcu.flash.set(this.powerOnFlash);
    this.powerOnFlash = null;
    this.flash = mcu.flash.subarray(0, FLASH_SIZE); // the live flash, written by onBreak
    const wd = (this.watchdog = mcu.peripherals[0x40058]);
    if (watchdog) {
      wd.scratchData.set(watchdog.scratch);
      wd.reason = watchdog.reason;
    }
    wd.onWatchdogTrigger = () => {
      // rp2040js re-arms the alarm at the same instant for ever: stop it, reset after this step
      wd.alarm.enable = false;
      wd.timer.enable = false;
      this.resetPending = { reason: wd.reason, scratch: Uint32Array.from(wd.scratchData) };
    };
    mcu.onBreak = (code) => this.onBreak(code);
    // The pads' reset value on silicon is 0x56 (input enabled, pull-down, Schmitt trigger);
    // rp2040js starts them with the input disabled, so a Pin(n).value() of a pin that nobody
    // configured read 0 whatever drives it.
    for (const pin of mcu.gpio) pin.padValue = PAD_RESET;
    for (const [pin, v] of Object.entries(this.inputs)) mcu.gpio[pin].setInputValue(v);
    this.adc.forEach((v, ch) => (mcu.adc.channelValues[ch] = v));
    this.hookMotor();
    this.usbReady = false;
    // A fresh USB device: the host's programs lost the port with the old one (the Python side
    // hangs up its pty), and bytes in flight to the old chip are gone, as on a real USB link.
    this.cdc = new CdcHost(mcu.usbCtrl, {
      onConfigured: () => {
        this.usbReady = true;
        emit({ e: "usb", boot: this.boot, ms: this.ms });
      },
      onData: (buf) => this.txChunks.push(Buffer.from(buf)),
    });
    // Start at boot stage 2 in flash, as rp2040js's own MicroPython demo does: the ROM's flash
    // boot path needs a QSPI flash chip the emulator lacks.
    mcu.core.PC = FLASH_BASE;
    this.anchor();
    this.checkMotor();
  }

  reset() {
    const state = this.resetPending;
    this.resetPending = null;
    this.flushTx();
    const at = this.ms;
    this.msBase = at;
    this.resets += 1;
    this.powerOnFlash = this.flash; // the new chip starts with the old one's flash
    // bit 0 of REASON: the watchdog timer ran out; bit 1: it was forced (machine.reset())
    emit({ e: "reset", n: this.resets, why: state.reason & 2 ? "forced" : "watchdog", ms: at });
    this.powerOn(state);
  }

  // -- flash writes through the boot ROM ----------------------------------------------------

  onBreak(code) {
    const core = this.mcu.core;
    const fn = ROM_FUNCS[this.breakNames[code - BRK_BASE]];
    if (code < BRK_BASE || !fn) {
      emit({ e: "break", code, pc: (core.PC - 2) >>> 0, ms: this.ms });
      return;
    }
    const r = core.registers;
    const flash = this.flash;
    if (fn === "erase") {
      const [addr, count] = [r[0], r[1]];
      if (addr + count <= FLASH_SIZE) flash.fill(0xff, addr, addr + count);
      this.flashChanged();
    } else if (fn === "program") {
      const [addr, src, count] = [r[0], r[1], r[2]];
      const sram = this.mcu.sram;
      const base = src - 0x20000000;
      for (let i = 0; i < count && addr + i < FLASH_SIZE; i++) {
        const inSram = base >= 0 && base + i < sram.length;
        const b = inSram ? sram[base + i] : this.mcu.readUint8(src + i);
        flash[addr + i] &= b;
      }
      this.flashChanged();
    }
    core.PC = core.LR & ~1; // return to the caller
  }

  flashChanged() {
    if (!this.opts.flash) return;
    const now = Date.now();
    if (!this.dirty) this.firstDirty = now;
    this.dirty = true;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    const latest = this.firstDirty + SAVE_MAX_DELAY_MS - now;
    const wait = Math.max(0, Math.min(SAVE_DEBOUNCE_MS, latest));
    this.saveTimer = setTimeout(() => this.save(), wait);
  }

  save() {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (!this.opts.flash || !this.dirty) return;
    const tmp = `${this.opts.flash}.tmp${process.pid}`;
    try {
      writeFileSync(tmp, this.flash);
      renameSync(tmp, this.opts.flash);
      this.dirty = false;
    } catch (e) {
      try { unlinkSync(tmp); } catch { /* not there */ }
      process.stderr.write(
        `rp2040 board: cannot save the flash to ${this.opts.flash}: ${e.message}\n`);
    }
  }

  // -- the motor's PWM, read back from the registers ----------------------------------------

  hookMotor() {
    const mcu = this.mcu;
    const wrap = (obj, lo, hi) => {
      const write = obj.writeUint32.bind(obj);
      obj.writeUint32 = (offset, value) => {
        write(offset, value);
        if (offset >= lo && offset <= hi) this.checkMotor();
      };
    };
    wrap(mcu.pwm, 0, 0xfff);
    const ctrl = 8 * MOTOR_PIN + 4;
    wrap(mcu.peripherals[0x40014], ctrl, ctrl); // IO_BANK0: the pin's function select
    // SIO's GPIO output and output enable registers (the pin as plain GPIO); not the rest of
    // SIO (the divider, spinlocks, FIFOs), which the firmware writes all the time
    wrap(mcu.sio, 0x10, 0x3c);
  }

  motorState() {
    const mcu = this.mcu;
    const pin = mcu.gpio[MOTOR_PIN];
    const ch = mcu.pwm.channels[MOTOR_PIN >> 1 & 7];
    const fn = pin.functionSelect;
    const top = ch.top, cc = (ch.cc >>> 16) & 0xffff, div = ch.div;
    const en = !!(ch.csr & 1), phase = !!(ch.csr & 2), inv = !!(ch.csr & 8);
    const divider = (((div >> 4) & 0xff) || 256) + (div & 0xf) / 16;
    let freq = 0, duty = 0;
    const pwm = fn === 4;
    if (pwm && en) {
      freq = mcu.clkSys / divider / (top + 1) / (phase ? 2 : 1);
      duty = Math.min(65535, Math.round((Math.min(cc, top + 1) * 65535) / (top + 1)));
      if (inv) duty = 65535 - duty;
    } else {
      duty = pin.outputEnable && pin.outputValue ? 65535 : 0; // a steady level, or not driven
    }
    return {
      freq: Math.round(freq * 1000) / 1000, duty, pwm, en, fn, top, cc, div, phase, inv,
      oe: pin.outputEnable, level: pin.outputValue,
    };
  }

  checkMotor() {
    const s = this.motorState();
    const m = this.motor;
    // the level of a pin the PWM drives changes all the time: it counts only as plain GPIO
    const same = m && ["freq", "duty", "pwm", "en", "fn", "top", "cc", "div", "phase", "inv", "oe"]
      .every((k) => m[k] === s[k]) && (s.pwm || m.level === s.level);
    if (same) return;
    this.motor = s;
    emit({ e: "pwm", ms: this.ms, ...s });
  }

  // -- running the core, paced to the wall clock ---------------------------------------------

  anchor() {
    this.wall0 = performance.now();
    this.nanos0 = this.clock.nanos;
  }

  /** The board time (nanos of the current chip) that the wall clock allows now. */
  allowed() {
    if (this.speed === 0) return Infinity;
    return this.nanos0 + (performance.now() - this.wall0) * 1e6 * this.speed;
  }

  flushTx() {
    if (!this.txChunks.length) return;
    const data = Buffer.concat(this.txChunks);
    this.txChunks = [];
    emit({ e: "tx", d: data.toString("base64"), ms: this.ms });
  }

  wake() {
    if (this.sleeping) {
      clearTimeout(this.timer);
      this.sleeping = false;
      this.timer = setImmediate(() => this.run());
    }
  }

  /** When the core sleeps and the wall clock has moved on, bring the board time up to it. */
  catchUp() {
    if (!this.sleeping) return;
    if (!this.mcu.core.waiting) return;
    const target = this.allowed();
    const next = this.clock.nanosToNextAlarm;
    let delta = target - this.clock.nanos;
    if (next > 0 && next < delta) delta = next;
    if (delta > 0 && Number.isFinite(delta)) this.clock.tick(delta);
  }

  run() {
    this.timer = null;
    if (this.sleeping) {
      this.catchUp(); // woken from sleep: the board time follows the wall clock
      this.sleeping = false;
    } else if (this.allowed() - this.clock.nanos > 20e6) {
      this.anchor(); // busy and behind the wall clock: do not race to catch up later
    }
    const sliceEnd = performance.now() + 20;
    const core = this.mcu.core;
    const clock = this.clock;
    for (;;) {
      const cycleNanos = 1e9 / this.mcu.clkSys;
      for (let i = 0; i < 20000 && !this.resetPending; i++) {
        if (!core.waiting) {
          clock.tick(core.executeInstruction() * cycleNanos);
          continue;
        }
        const next = clock.nanosToNextAlarm; // 0: no alarm at all
        const target = this.allowed();
        if (next > 0 && clock.nanos + next <= target) {
          clock.tick(next);
          continue;
        }
        // asleep until an alarm (or input) that the wall clock has not reached yet
        if (target - clock.nanos > 20e6) this.anchor(); // fell behind while busy
        else if (Number.isFinite(target) && target > clock.nanos) clock.tick(target - clock.nanos);
        this.flushTx();
        const ahead = next - (this.allowed() - clock.nanos); // nanos of board time to sleep
        const wait = next > 0 ? ahead / 1e6 / (this.speed || 1) : 50;
        this.sleeping = true;
        this.timer = setTimeout(() => this.run(), Math.max(0, Math.min(wait, 50)));
        return;
      }
      if (this.resetPending) {
        this.reset();
        break;
      }
      this.flushTx(); // what the board sent goes out within 20,000 instructions, as USB would
      if (performance.now() >= sliceEnd) break;
    }
    this.flushTx();
    this.timer = setImmediate(() => this.run());
  }

  // -- commands ------------------------------------------------------------------------------

  command(msg) {
    switch (msg.c) {
      case "rx":
        this.catchUp();
        this.cdc.send(new Uint8Array(Buffer.from(msg.d, "base64")));
        this.wake();
        break;
      case "dtr":
        this.catchUp();
        this.cdc.setDtr(!!msg.v);
        this.wake();
        break;
      case "pin":
        this.catchUp();
        this.inputs[msg.pin] = !!msg.v;
        this.mcu.gpio[msg.pin].setInputValue(!!msg.v);
        this.wake();
        break;
      case "adc":
        this.adc[msg.ch] = msg.raw;
        this.mcu.adc.channelValues[msg.ch] = msg.raw;
        break;
      case "query":
        this.catchUp();
        emit({ e: "state", id: msg.id, ms: this.ms, boot: this.boot, resets: this.resets,
          usb: this.usbReady, dtr: this.cdc.dtr, queued: this.cdc.queued, pwm: this.motorState(),
          inputs: this.inputs, adc: this.adc });
        break;
      case "save":
        this.save();
        emit({ e: "saved", id: msg.id, ms: this.ms });
        break;
      case "quit":
        quit(0);
        break;
      default:
        emit({ e: "error", msg: `unknown command ${JSON.stringify(msg.c)}` });
    }
  }
}

/** The boot ROM with a BKPT at the start of each flash function that we do in JavaScript:
 * { words (for RP2040.loadBootrom), names (the function of BKPT #BRK_BASE + i) }. */
function patchBootrom(bootrom) {
  const data = Buffer.from(bootrom.data);
  const names = [];
  for (const name of Object.keys(ROM_FUNCS)) {
    const addr = bootrom.funcs[name];
    if (!addr) continue;
    data.writeUInt16LE(0xbe00 | (BRK_BASE + names.length), addr & ~1); // BKPT #code
    names.push(name);
  }
  return { words: new Uint32Array(data.buffer, data.byteOffset, data.length / 4), names };
}

let board = null;

function quit(code) {
  if (board) {
    board.flushTx();
    board.save();
    emit({ e: "bye", ms: board.ms, resets: board.resets });
  }
  process.exit(code);
}

async function main() {
  let opts, bootrom, blocks, flashImage;
  try {
    opts = parseArgs(process.argv.slice(2));
    blocks = loadUF2(opts.uf2);
    bootrom = loadBootrom(opts.bootrom);
    flashImage = loadFlashFile(opts.flash);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  if (opts.check) process.exit(0);
  let rp;
  try {
    rp = await import(opts.rp2040js
      ? pathToFileURL(join(opts.rp2040js, "dist", "esm", "index.js")).href : "rp2040js");
  } catch (e) {
    process.stderr.write("the RP2040 emulator (npm package rp2040js) is not installed; run " +
      "`npm ci` in the facewave checkout\n");
    process.exit(2);
  }
  // rp2040js reports what it does not emulate on the console (e.g. the inter-core FIFO, which
  // MicroPython reads at boot): once per message, as an event, never on our stderr (whose first
  // line is the error message of a failure) and never once per access (a loop polling an
  // unemulated register would spend its time printing)
  const warned = new Set();
  console.log = console.info = console.warn = console.error = (...args) => {
    const msg = args.join(" ");
    if (warned.has(msg) || warned.size >= 100) return;
    warned.add(msg);
    emit({ e: "warn", msg, ms: board ? board.ms : 0 });
  };
  board = new Board(rp, opts, bootrom, blocks, flashImage);
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => quit(0));
  let buffered = "";
  process.stdin.setEncoding("latin1");
  process.stdin.on("data", (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.trim()) continue;
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        emit({ e: "error", msg: `not JSON: ${line.slice(0, 80)}` });
        continue;
      }
      board.command(msg);
    }
  });
  process.stdin.on("end", () => quit(0));
  process.stdout.on("error", () => quit(0)); // the Python side went away
  emit({ e: "ready", ms: 0, speed: opts.speed });
  board.run();
}

main().catch((e) => {
  process.stderr.write(`rp2040 board: ${e.stack || e}\n`);
  if (board) board.save();
  process.exit(1);
});
