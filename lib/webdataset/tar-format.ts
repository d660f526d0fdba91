// The POSIX ustar format as WebDataset uses it: 512-byte headers, data padded to 512 bytes,
// two zero blocks at the end. PAX (`x`) and GNU long-name (`L`) headers carry long paths.

export const BLOCK = 512;

export type EntryType = 'file' | 'directory' | 'hardlink' | 'symlink' | 'device' | 'fifo' | 'pax' | 'pax-global' | 'gnu-longname' | 'other';

export interface TarHeader {
  name: string;
  size: number;
  type: EntryType;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '5': 'directory',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'device',
  '4': 'device',
  '6': 'fifo',
  x: 'pax',
  g: 'pax-global',
  L: 'gnu-longname',
};

export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

function readString(block: Buffer, start: number, length: number): string {
  const end = block.indexOf(0, start);
  return block.toString('utf8', start, end === -1 || end > start + length ? start + length : end);
}

function readNumber(block: Buffer, start: number, length: number): number {
  // GNU base-256 encoding for sizes of 8 GiB and more.
  if (block[start] & 0x80) {
    let value = 0;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + block[i];
    return value;
  }
  const text = readString(block, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return NaN;
  return parseInt(text, 8);
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum;
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Parses a header block; returns a reason string when the block is not a valid header. */
export function decodeHeader(block: Buffer): TarHeader | string {
  const stored = readNumber(block, 148, 8);
  if (Number.isNaN(stored) || stored !== checksum(block)) return 'header checksum mismatch';
  const size = readNumber(block, 124, 12);
  if (Number.isNaN(size)) return 'header size field is not octal';
  const typeflag = String.fromCharCode(block[156]);
  let name = readString(block, 0, 100);
  if (block.toString('latin1', 257, 262) === 'ustar') {
    const prefix = readString(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  return { name, size, type: TYPES[typeflag] ?? 'other' };
}

function writeOctal(block: Buffer, value: number, start: number, length: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, start, length, 'latin1');
}

/** A regular-file header; deterministic (mtime 0, root owner) so equal inputs give equal shards. */
export function encodeFileHeader(name: string, size: number, typeflag = '0'): Buffer {
  const block = Buffer.alloc(BLOCK);
  let base = name;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100 || Buffer.byteLength(name.slice(0, cut)) > 155) {
      throw new RangeError(`tar path too long for a ustar header: ${name}`);
    }
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  block.write(base, 0, 100, 'utf8');
  writeOctal(block, 0o644, 100, 8);
  writeOctal(block, 0, 108, 8);
  writeOctal(block, 0, 116, 8);
  writeOctal(block, size, 124, 12);
  writeOctal(block, 0, 136, 12);
  block.write(typeflag, 156, 1, 'latin1');
  block.write('ustar\0' + '00', 257, 8, 'latin1');
  block.write(prefix, 345, 155, 'utf8');
  block.write(`${checksum(block).toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

/** A PAX extended header record set carrying a long path. */
function encodePaxPath(name: string): Buffer {
  const body = `path=${name}\n`;
  // The record's length prefix counts itself, so find the fixed point.
  let len = body.length + 3;
  while (`${len} ${body}`.length !== len) len = `${len} ${body}`.length;
  const record = Buffer.from(`${len} ${body}`, 'utf8');
  return Buffer.concat([encodeFileHeader('PaxHeader', record.length, 'x'), record, Buffer.alloc(paddedSize(record.length) - record.length)]);
}

/**
 * The `path` a PAX header sets, if any. Each record is `<length> <key>=<value>\n`; the length is
 * read from at most 20 digits and every byte is looked at once, so a header costs time linear in
 * its size whatever it holds. A record that does not parse ends the header.
 */
export function paxPath(data: Buffer): string | undefined {
  let path: string | undefined;
  for (let pos = 0; pos < data.length; ) {
    let len = 0;
    let digits = pos;
    while (digits < data.length && digits - pos < 20 && data[digits] >= 0x30 && data[digits] <= 0x39) len = len * 10 + data[digits++] - 0x30;
    if (digits === pos || data[digits] !== 0x20 || len <= digits - pos + 1 || pos + len > data.length || data[pos + len - 1] !== 0x0a) break;
    const record = data.subarray(digits + 1, pos + len - 1);
    if (record.indexOf(0x3d) === 4 && record.toString('latin1', 0, 4) === 'path') path = record.toString('utf8', 5);
    pos += len;
  }
  return path;
}

/** A whole member: header (behind a PAX header when the path does not fit ustar), data, padding. */
export function encodeMember(name: string, data: Buffer): Buffer {
  const padding = Buffer.alloc(paddedSize(data.length) - data.length);
  try {
    return Buffer.concat([encodeFileHeader(name, data.length), data, padding]);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    const short = name.slice(-90).replace(/^[^/]*\//, '');
    return Buffer.concat([encodePaxPath(name), encodeFileHeader(short, data.length), data, padding]);
  }
}
