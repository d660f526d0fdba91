/** Image formats the pool accepts (the jpg, png, webp), recognized by their magic bytes. */
export type ImageFormat = 'png' | 'jpeg' | 'webp';

export function sniffFormat(bytes: Buffer): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return undefined;
}

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
  colorType: number;
  /** Adam7: the rows are stored in seven passes. */
  interlaced: boolean;
  /** Chunks that make sharp transform pixels (ICC profile, EXIF orientation, transparency key). */
  transforming: boolean;
}

const TRANSFORMING_CHUNKS = new Set(['iCCP', 'eXIf', 'tRNS', 'gAMA', 'cHRM']);

/** Reads IHDR and the chunk names before the image data, without inflating anything. */
export function readPngHeader(bytes: Buffer): PngHeader | undefined {
  if (bytes.length < 33 || bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  const header: PngHeader = { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20), bitDepth: bytes[24], colorType: bytes[25], interlaced: bytes[28] === 1, transforming: false };
  for (let pos = 8; pos + 8 <= bytes.length; ) {
    const length = bytes.readUInt32BE(pos);
    const type = bytes.toString('latin1', pos + 4, pos + 8);
    if (type === 'IDAT') break;
    if (TRANSFORMING_CHUNKS.has(type)) header.transforming = true;
    pos += 12 + length;
  }
  return header;
}

/** An image's stored width and height, read from its header without decoding anything. */
export interface ImageSize {
  width: number;
  height: number;
}

/**
 * The first frame header (SOF0 to SOF15; C4, C8 and CC are other markers) of a JPEG. Bytes between
 * segments are passed over up to the next 0xFF, as libjpeg does, so no file that decodes is missed.
 */
function jpegSize(bytes: Buffer): ImageSize | undefined {
  for (let pos = 2; pos + 4 <= bytes.length; ) {
    const marker = bytes[pos + 1];
    if (bytes[pos] !== 0xff || marker === 0xff) pos++;
    else if (marker === 0x01 || marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7)) pos += 2;
    else if (marker === 0xd9 || marker === 0xda) return undefined;
    else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return pos + 9 <= bytes.length ? { height: bytes.readUInt16BE(pos + 5), width: bytes.readUInt16BE(pos + 7) } : undefined;
    } else pos += 2 + bytes.readUInt16BE(pos + 2);
  }
  return undefined;
}

/** The canvas of a WebP: extended (VP8X), lossy (VP8) or lossless (VP8L). */
function webpSize(bytes: Buffer): ImageSize | undefined {
  if (bytes.length < 30) return undefined;
  switch (bytes.toString('latin1', 12, 16)) {
    case 'VP8X':
      return { width: bytes.readUIntLE(24, 3) + 1, height: bytes.readUIntLE(27, 3) + 1 };
    case 'VP8 ':
      return { width: bytes.readUInt16LE(26) & 0x3fff, height: bytes.readUInt16LE(28) & 0x3fff };
    case 'VP8L': {
      const bits = bytes.readUInt32LE(21);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    default:
      return undefined;
  }
}

/** A JPEG's or WebP's width and height as its header states them (undefined where it cannot be read: the decoder then decides). PNGs: readPngHeader. */
export function readImageSize(format: 'jpeg' | 'webp', bytes: Buffer): ImageSize | undefined {
  return format === 'jpeg' ? jpegSize(bytes) : webpSize(bytes);
}

/** Whether the file ends before its format's end marker (PNG IEND, JPEG EOI, or the RIFF length WebP declares). */
export function endsEarly(format: ImageFormat, bytes: Buffer): boolean {
  const tail = bytes.subarray(Math.max(0, bytes.length - 16));
  if (format === 'png') return !tail.includes('IEND', 0, 'latin1');
  if (format === 'jpeg') return !tail.includes(Buffer.from([0xff, 0xd9]));
  return bytes.readUInt32LE(4) + 8 > bytes.length;
}
